# Runs the portable firmware tests (host_tests/portable/test_*.py) under the
# real MicroPython unix port: the same modules and assertions pytest runs on
# CPython, here with the real viper/native emitters and a real heap_lock().
# Usage: micropython tools/mp_test.py [name-filter]
import gc
import os
import sys

_here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
ROOT = _here + "/.."
for sub in ("firmware", "boards", "tools", "host_tests/portable"):
    sys.path.insert(0, ROOT + "/" + sub)

want = sys.argv[1] if len(sys.argv) > 1 else ""
passed = 0
failed = 0
names = sorted(n for n in os.listdir(ROOT + "/host_tests/portable")
               if n.startswith("test_") and n.endswith(".py"))
for fname in names:
    modname = fname[:-3]
    try:
        mod = __import__(modname)
    except Exception as e:
        print("FAIL import", modname, repr(e))
        sys.print_exception(e)
        failed += 1
        continue
    for attr in sorted(dir(mod)):
        if not attr.startswith("test_") or (want and want not in modname + "." + attr):
            continue
        fn = getattr(mod, attr)
        gc.collect()  # each test starts on a collected heap (a 32 KB buffer must fit)
        try:
            fn()
            passed += 1
        except Exception as e:
            failed += 1
            print("FAIL", modname + "." + attr, repr(e))
            sys.print_exception(e)
print("micropython:", "%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed or not passed else 0)
