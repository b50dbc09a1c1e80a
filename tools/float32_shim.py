"""firmware/dsp.py with every float operation rounded to float32, as the
RP2040's MicroPython (single-precision floats) computes it.

The module's source is rewritten (ast) so that each arithmetic operator,
augmented assignment, unary minus, float literal and call result goes
through `_f32`: an operand that is a float, or an int meeting a float, is
rounded to float32 first (MicroPython converts an int to its float type),
the operation runs in double and its result is rounded to float32. For +,
-, *, / and sqrt one rounding of the double result gives the correctly
rounded float32 result (double has more than 2 x 24 + 2 bits); cos, sin,
atan2 are then correctly rounded too, one ulp better than a float32 libm
may be. Integer operations stay integers: the kernel (dsp_kernel, no
floats) is shared, untouched.

    dsp32 = float32_shim.load()       # a module like dsp
    d = dsp32.Dsp(frontend)           # its float work in float32
"""

import ast
import math
import os
import struct
import sys
import types

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_PACK = struct.Struct("f")


def f32(x):
    """x rounded to the nearest float32 (ints and other types as they are)."""
    if type(x) is float:
        if x != x or x in (math.inf, -math.inf):
            return x
        return _PACK.unpack(_PACK.pack(x))[0]
    return x


def _arg(x, other):
    # an int meeting a float becomes a float32 first, as in MicroPython
    if type(x) is float:
        return f32(x)
    if type(x) is int and type(other) is float:
        return f32(float(x))
    return x


_OPS = {
    "Add": lambda a, b: a + b, "Sub": lambda a, b: a - b, "Mult": lambda a, b: a * b,
    "Div": lambda a, b: a / b, "FloorDiv": lambda a, b: a // b, "Mod": lambda a, b: a % b,
    "Pow": lambda a, b: a ** b, "LShift": lambda a, b: a << b, "RShift": lambda a, b: a >> b,
    "BitOr": lambda a, b: a | b, "BitAnd": lambda a, b: a & b, "BitXor": lambda a, b: a ^ b,
}


def _bin(op, a, b):
    a2 = _arg(a, b)
    b2 = _arg(b, a)
    if op == "Div" and type(a2) is int and type(b2) is int:  # int / int is a float
        a2, b2 = f32(float(a2)), f32(float(b2))
    return f32(_OPS[op](a2, b2))


def _call(x):
    return f32(x)


class _Rewrite(ast.NodeTransformer):
    def _helper(self, name, args):
        return ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=args, keywords=[])

    def visit_BinOp(self, node):
        self.generic_visit(node)
        if type(node.op).__name__ not in _OPS:
            return node
        return self._helper("_f32_bin", [ast.Constant(type(node.op).__name__), node.left, node.right])

    def visit_AugAssign(self, node):
        self.generic_visit(node)
        name = type(node.op).__name__
        if name not in _OPS:
            return node
        load = _as_load(node.target)
        value = self._helper("_f32_bin", [ast.Constant(name), load, node.value])
        return ast.Assign(targets=[node.target], value=value)

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        return self._helper("_f32_call", [node])

    def visit_Call(self, node):
        self.generic_visit(node)
        return self._helper("_f32_call", [node])

    def visit_Constant(self, node):
        if type(node.value) is float:
            return ast.copy_location(ast.Constant(f32(node.value)), node)
        return node


def _as_load(target):
    t = ast.parse(ast.unparse(target), mode="eval").body
    return t


def load(name="dsp", path=None):
    """The firmware module `name` (firmware/<name>.py) compiled with every
    float operation in float32, as a new module object (the original,
    imported normally, is left alone)."""
    path = path or os.path.join(ROOT, "firmware", name + ".py")
    with open(path) as f:
        tree = ast.parse(f.read(), filename=path)
    tree = ast.fix_missing_locations(_Rewrite().visit(tree))
    mod = types.ModuleType(name + "_f32")
    mod.__file__ = path
    mod.__dict__.update(_f32_bin=_bin, _f32_call=_call)
    fw = os.path.join(ROOT, "firmware")
    if fw not in sys.path:
        sys.path.insert(0, fw)
    exec(compile(tree, path, "exec"), mod.__dict__)
    return mod
