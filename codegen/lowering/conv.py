"""Kernel generators for the convolutions (``croton/ops/conv.py``): forward, gradient wrt the
input (the transposed convolution) and gradient wrt the filters, in 2 or 3 spatial dimensions.
Each emits its shape checks and output shapes and one call into ``runtime/cpu/kernels/conv.hpp``.

Example::

    >>> import croton.tensor as T
    >>> from croton.fgraph import Graph
    >>> from croton.codegen.lower import lower
    >>> x, w = T.dtensor4('x'), T.dtensor4('w')
    >>> [s.kind for s in lower(Graph.make([x, w], [T.nnet.conv2d(x, w)])).plan.steps]
    ['call']
"""

from __future__ import annotations

from croton.codegen.expr import Braced, Buf, Dim, Int, KernelCall, Lit, Local, Node, all_of, as_node
from croton.codegen.lower import CheckInfo, Lowerer, shape_of
from croton.codegen.lowering import lowering
from croton.codegen.lowering.shape_ops import dim_exprs
from croton.codegen.plan import CallStep
from croton.codegen.shape_facts import out_shapes
from croton.graph import Apply
from croton.ops.conv import conv_geometry
from croton.types import CXX_TYPE

HEADER = "kernels/conv.hpp"


def _check(lw: Lowerer, node: Apply, cond: Node, detail: str, a: int, b: int | None = None,
           a_shape: Node | None = None, a_ndim: int | None = None) -> None:
    """A call-time check ``cond`` whose failure names the op, the user's line and the shapes of
    buffers ``a`` and ``b``."""
    cid = lw.check(CheckInfo("shape", node.op_label(), node.source, detail))
    lw.require(cond, cid, a_shape or shape_of(a),
               a_ndim if a_ndim is not None else lw.buffers[a].ndim,
               shape_of(b) if b is not None else None, lw.buffers[b].ndim if b is not None
               else 0)


class _Geometry:
    """Expressions of one convolution: padding before/after, dilated filter sizes, output
    sizes, for input dims ``xdims`` and filter dims ``wdims`` (lists of expressions)."""

    def __init__(self, node: Apply, xdims: list[Node], wdims: list[Node]) -> None:
        p = dict(node.params)
        self.nd = len(p["subsample"])
        self.p = p
        # the same geometry as the forward op's shape fact (croton/ops/conv.py)
        dil_k, pads, out = conv_geometry(p, xdims, wdims)
        self.dil_k = [as_node(k) for k in dil_k]
        self.pads = [(as_node(lo), as_node(hi)) for lo, hi in pads]
        self.out = [as_node(o) for o in out]
        self.fits = all_of(wdims[2 + i].gt(0) & (xdims[2 + i] + lo + hi).ge(self.dil_k[i])
                           for i, (lo, hi) in enumerate(self.pads))

    def params(self) -> Node:
        lead = 3 - self.nd
        pad = [Int(0)] * lead + [lo for lo, _ in self.pads]
        st = [Int(1)] * lead + [Int(int(s)) for s in self.p["subsample"]]
        dil = [Int(1)] * lead + [Int(int(d)) for d in self.p["dilation"]]
        flip = Lit("true" if self.p["filter_flip"] else "false")
        return Braced("croton::ConvParams", (Int(self.nd), Braced("", tuple(pad)),
                                             Braced("", tuple(st)), Braced("", tuple(dil)),
                                             Int(int(self.p["groups"])), flip))


def _dims(buf: int, n: int) -> list[Node]:
    return [Dim(buf, d) for d in range(n)]


def _common_checks(lw: Lowerer, node: Apply, geo: _Geometry, xdims: list[Node],
                   wdims: list[Node], xb: int, wb: int, x_shape: Node | None = None) -> None:
    groups = int(geo.p["groups"])
    nd2 = geo.nd + 2
    _check(lw, node, xdims[1].eq(wdims[1] * groups),
           "input channels (dim 1 of the input) differ from the filters' channels (dim 1) x "
           f"groups ({groups})", xb, wb, x_shape, nd2)
    if groups > 1:
        _check(lw, node, (wdims[0] % groups).eq(0),
               f"the output channels (dim 0 of the filters) are not divisible by groups "
               f"({groups})", wb)
    _check(lw, node, geo.fits, "the filters are empty or larger than the padded input", xb, wb,
           x_shape, nd2)


def _declared(lw: Lowerer, node: Apply, buf: int, declared, what: str) -> None:
    if declared is None:
        return
    conds = [Dim(buf, d).eq(int(s)) for d, s in enumerate(declared) if s is not None]
    if conds:
        _check(lw, node, all_of(conds),
               f"the {what} differs from the declared {what}_shape {tuple(declared)}", buf)


def _check_pair(lw: Lowerer, node: Apply, cond: Node, gb: int, ref_shape: Node, nd: int) -> None:
    cid = lw.check(CheckInfo("shape", node.op_label(), node.source,
                             "the output gradient (first) does not have the shape the "
                             "convolution of the second shape gives"))
    lw.require(cond, cid, shape_of(gb), nd, ref_shape, nd)


def _kernel(lw: Lowerer, node: Apply, fn: str, ctype: str, ins: tuple[int, int], ob: int,
            geo: _Geometry, header: str) -> None:
    lw.need_header(header)
    lw.emit(CallStep((KernelCall(fn, (ctype,), (
        Buf(ins[0]), Buf(ins[1]), Buf(ob), geo.params(), Local("scratch"), Local("err")),
        ins, (ob,), "rc"),), node.op_label()))


def conv_forward_steps(lw: Lowerer, node: Apply, ns: str = "croton::",
                       header: str = HEADER) -> None:
    """The checks and the kernel call of a forward convolution: ``{ns}conv_forward`` from
    runtime header ``header`` (the CPU's by default; the CUDA target's in cuda_conv.py)."""
    x, w = node.inputs
    params = dict(node.params)
    xb, wb = lw.buffer_of(x), lw.buffer_of(w)
    ob = lw.result_buffer(node.outputs[0], node.op_label())
    xd, wd = _dims(xb, x.ndim), _dims(wb, w.ndim)
    geo = _Geometry(node, xd, wd)
    _declared(lw, node, xb, params.get("input_shape"), "input")
    _declared(lw, node, wb, params.get("filter_shape"), "filter")
    _common_checks(lw, node, geo, xd, wd, xb, wb)
    lw.set_shape(ob, out_shapes(lw, node)[0])
    _kernel(lw, node, f"{ns}conv_forward", CXX_TYPE[x.dtype], (xb, wb), ob, geo, header)


@lowering("conv")
def lower_conv(lw: Lowerer, node: Apply) -> None:
    conv_forward_steps(lw, node)


def conv_gradient_steps(lw: Lowerer, node: Apply, wrt: str, ns: str = "croton::",
                        header: str = HEADER) -> None:
    """conv_grad_input (``wrt='input'``: inputs w, gz, the input's shape) or conv_grad_filters
    (``wrt='filter'``: inputs x, gz, the filters' shape): the output's shape comes from the
    shape vector, then the forward convolution's checks and gz's shape; the kernel is
    ``{ns}conv_grad_input`` or ``{ns}conv_grad_filters`` from ``header``."""
    known, gz, _ = node.inputs
    kb, gb = lw.buffer_of(known), lw.buffer_of(gz)
    nd2 = known.ndim
    dim_exprs(lw, node, tuple(("v", 2, d) for d in range(nd2)), shape_of(kb), nd2)  # checks
    ob = lw.result_buffer(node.outputs[0], node.op_label())
    lw.set_shape(ob, out_shapes(lw, node)[0])
    xb, wb = (ob, kb) if wrt == "input" else (kb, ob)
    xd, wd = _dims(xb, nd2), _dims(wb, nd2)
    geo = _Geometry(node, xd, wd)
    _check(lw, node, all_of(d.ge(0) for d in _dims(ob, nd2)), f"negative {wrt} shape", ob)
    _common_checks(lw, node, geo, xd, wd, xb, wb)
    _check_pair(lw, node, all_of([Dim(gb, 0).eq(xd[0]), Dim(gb, 1).eq(wd[0])]
                                 + [Dim(gb, 2 + i).eq(e) for i, e in enumerate(geo.out)]),
                gb, shape_of(xb), nd2)
    kernel = "conv_grad_input" if wrt == "input" else "conv_grad_filters"
    _kernel(lw, node, f"{ns}{kernel}", CXX_TYPE[gz.dtype], (kb, gb), ob, geo, header)


@lowering("conv_grad_input")
def lower_conv_grad_input(lw: Lowerer, node: Apply) -> None:
    conv_gradient_steps(lw, node, "input")


@lowering("conv_grad_filters")
def lower_conv_grad_filters(lw: Lowerer, node: Apply) -> None:
    conv_gradient_steps(lw, node, "filter")
