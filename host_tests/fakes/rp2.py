"""CPython stand-in for the `rp2` module: PIO programs, state machines and
DMA channels from host_tests/portable/pio_dma_sim.py (a model of the
RP2040's PIO and DMA), with its fast path on: whole ADC frames replayed,
so a runtime test can stream a minute of frames. machine.SPI (fakes) puts
itself on the same chip at its data register."""
import pio_dma_sim
from pio_dma_sim import DMA, PIO, asm_pio  # noqa: F401

pio_dma_sim.CHIP.fast = True


def StateMachine(n, program=None, **kw):  # noqa: N802 (rp2's name)
    return pio_dma_sim.StateMachine(n, program, **kw)


def chip():
    """The emulated chip the current rp2 objects live on."""
    return pio_dma_sim.CHIP
