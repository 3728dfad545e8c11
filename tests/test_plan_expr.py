"""The plan's typed data (codegen/expr.py): expressions and kernel-call records report the
buffers and shape arrays they name, print to C++ only at render time, and the stages after
lowering (hoisting, the in-place safety check, memory planning) decide from them, not from text."""

import numpy as np

import croton
import croton.tensor as T
from croton.codegen.expr import (
    ArrayRef,
    Assign,
    Braced,
    Buf,
    Call,
    Declare,
    Dim,
    Guard,
    Int,
    KernelCall,
    Lit,
    Local,
    Member,
    Not,
    ShapeOf,
    Slot,
    Value,
    all_of,
    chain,
    cpp,
)
from croton.codegen.finish_plan import hoist_static_shapes
from croton.codegen.lower import lower
from croton.codegen.memory_plan import mentioned
from croton.codegen.plan import AllocStep, CallStep, ShapeLine
from croton.codegen.render import render_function
from croton.fgraph import Graph


# --- expressions ------------------------------------------------------------------------------
def test_expressions_report_buffers_arrays_and_value_reads():
    e = (Dim(1, 0) + Slot("F4_0", 2)) * Value(7, "int32_t")
    assert e.buffers() == {1, 7}
    assert e.arrays() == {"F4_0"}
    assert e.reads_values()
    shape_only = Call("croton::numel", (Int(2), ShapeOf(3))).eq(ArrayRef("F3_0"))
    assert shape_only.buffers() == {3} and shape_only.arrays() == {"F3_0"}
    assert not shape_only.reads_values()
    # a whole buffer passed to a helper reads its contents
    assert Call("croton::value_repeats_ok", (Buf(5), Dim(2, 0))).reads_values()
    assert not (Local("n") + Int(1)).buffers()


def test_printing_parenthesizes_only_where_needed():
    a, b, c = Dim(1, 0), Dim(2, 0), Dim(3, 1)
    assert cpp(a + b + c) == "B1.shape[0] + B2.shape[0] + B3.shape[1]"
    assert cpp(a - (b + c)) == "B1.shape[0] - (B2.shape[0] + B3.shape[1])"
    assert cpp((a + 1) * 2 // 3) == "(B1.shape[0] + 1) * 2 / 3"
    assert cpp(a * Int(-2)) == "B1.shape[0] * (-2)"
    assert cpp((a.eq(1) | a.eq(b)) & c.ge(0)) == \
        "(B1.shape[0] == 1 || B1.shape[0] == B2.shape[0]) && B3.shape[1] >= 0"
    # && inside || is parenthesized (g++ -Wparentheses)
    assert cpp(a.eq(1) | (b.eq(1) & c.eq(1))) == \
        "B1.shape[0] == 1 || (B2.shape[0] == 1 && B3.shape[1] == 1)"
    assert cpp(Value(4)) == "croton::value<int64_t>(B4)"
    assert cpp(Value(4, "int64_t", Int(2))) == "croton::value<int64_t>(B4, 2)"
    assert cpp(Int(5, typed=True)) == "int64_t(5)"
    assert cpp(Member(2, "strides", Int(1))) == "B2.strides[1]"
    assert cpp(Braced("croton::P", (Int(1), Braced("", (Int(2), Int(3)))))) == \
        "croton::P{1, {2, 3}}"
    assert cpp(all_of([])) == "true" and cpp(chain("*", [], Int(1))) == "1"
    assert cpp(None) == "nullptr"


def test_expressions_are_values():
    assert Dim(1, 0) + 1 == Dim(1, 0) + 1  # frozen dataclasses: equal and hashable
    assert len({Dim(1, 0), Dim(1, 0), Slot("F1_0", 0)}) == 2


# --- statements and kernel calls --------------------------------------------------------------
def test_kernel_call_record_prints_and_reports_its_buffers():
    call = KernelCall("croton::conv_forward", ("double",), (
        Buf(0), Buf(1), Buf(2), Local("scratch"), Local("err")), (0, 1), (2,), "rc")
    assert cpp(call) == \
        "if (int rc = croton::conv_forward<double>(B0, B1, B2, scratch, err)) return rc;"
    assert call.can_fail and call.buffers() == {0, 1, 2}
    alloc = KernelCall("croton::contract", ("float",), (Buf(3), Int(1)), (3,), (4,), "alloc")
    assert cpp(alloc) == "if (!croton::contract<float>(B3, 1)) return croton::fail_alloc(err);"
    assert alloc.buffers() == {3, 4}  # its declared writes count even when not an argument
    plain = KernelCall("croton::sort_along", ("double", "int64_t", True), (Buf(0), Buf(1)))
    assert cpp(plain) == "croton::sort_along<double, int64_t, true>(B0, B1);"
    assert not plain.can_fail
    sliced = KernelCall("croton::slice_axis", ("float",), (Buf(0),), (0,), (5,), result=Buf(5))
    assert cpp(sliced) == "B5 = croton::slice_axis<float>(B0);"


def test_call_step_reads_writes_and_can_fail():
    step = CallStep((
        Declare("int64_t start", Int(0)),
        KernelCall("croton::copy_into_slice", ("float", "float"), (Buf(1), Buf(3)), (1,), (3,),
                   result=Local("start")),
        Assign(Member(4, "data"), Member(3, "data")),
    ), "join")
    assert step.reads == {1} and step.writes == {3, 4}
    assert not step.can_fail
    failing = CallStep((Guard(Member(2, "data").eq(Lit("nullptr")), Int(1)),), "glue")
    assert failing.can_fail and cpp(failing.code[0]) == "if (B2.data == nullptr) return 1;"
    negated = Guard(Not(Call("croton::same_shape", (Int(1), ShapeOf(2), ShapeOf(3)))), Int(1))
    assert cpp(negated) == "if (!croton::same_shape(1, B2.shape, B3.shape)) return 1;"
    assert mentioned(failing) == {2}
    assert mentioned(step) == {1, 3, 4}


# --- the stages after lowering ------------------------------------------------------------------
def test_hoisting_follows_values_and_the_arrays_a_check_completes():
    steps = [
        ShapeLine(Slot("F2_0", 0), Value(1)),  # computed: stays
        ShapeLine(Slot("F2_0", 1), Int(-1)),  # static: hoisted
        ShapeLine(None, Call("croton::infer_reshape", (Int(3), ArrayRef("F2_0"), Int(2))), 0,
                  ShapeOf(0), 1, ArrayRef("F2_0"), 2),
        ShapeLine(Dim(2, 0), Slot("F2_0", 0)),
        AllocStep(2, "scratch", -1, 2, "double"),
        ShapeLine(Dim(3, 0), Dim(0, 0)),  # static, even after dynamic lines
        AllocStep(3, "scratch", -1, 1, "double"),
    ]
    prologue, rest = hoist_static_shapes(steps)
    assert prologue == [steps[1], steps[5], steps[6]]
    assert rest == [steps[0], steps[2], steps[3], steps[4]]


def test_inplace_update_buffer_is_a_field_not_a_label():
    x = T.dvector("x")
    W = croton.shared(np.zeros(3), "W")
    from croton.codegen.pipeline import run_pipeline

    plan = lower(run_pipeline(Graph.make([x], [T.exp(x)], [(W, W - x)]))).plan
    inplace = [b for b in plan.buffers if b.inplace]
    assert len(inplace) == 1 and inplace[0].role == "update"
    assert plan.commit_point == 0


def test_uses_complex_comes_from_dtypes_even_when_no_buffer_is_complex():
    # the complex constant is inlined into the loop body: no complex buffer, a complex program
    from croton.codegen.pipeline import run_pipeline

    x = T.dvector("x")
    plan = lower(run_pipeline(Graph.make([x], [T.real(x * np.complex128(1 + 2j))]))).plan
    assert not any(b.dtype.startswith("complex") for b in plan.buffers)
    assert plan.uses_complex
    assert "#define CROTON_NEED_COMPLEX 1" in render_function(plan)
    f = croton.function([x], T.real(x * np.complex128(1 + 2j)))
    np.testing.assert_allclose(f(np.array([1.0, -2.0])), [1.0, -2.0])


def test_rendered_calls_come_from_records():
    a = T.dmatrix("a")
    plan = lower(Graph.make([a], [T.sort(a, axis=0)])).plan
    (step,) = [s for s in plan.steps if s.kind == "call"]
    (call,) = step.code
    assert (call.fn, call.reads, call.writes, call.can_fail) == \
        ("croton::sort_along", (0,), (1,), True)
    assert cpp(call) in render_function(plan)
    assert Lit("x").buffers() == frozenset()


def test_every_step_record_says_whether_it_can_fail():
    """The in-place safety check reads each step's own fact: checks, allocations, calls that
    return a code, branches and loops can stop a call midway; kernels without checks cannot."""
    from croton.codegen import plan as P

    assert ShapeLine(Dim(1, 0), Dim(0, 0)).can_fail is False
    assert ShapeLine(None, Dim(0, 0).eq(Dim(1, 0)), 3, ShapeOf(0), 1, ShapeOf(1), 1).can_fail
    assert AllocStep(2, "output", 0, 1, "double").can_fail
    for cls in (P.ElementwiseStep, P.DotStep, P.ViewStep, P.ShapeValueStep,
                P.FusedReduceStep):
        assert cls.can_fail is False, cls
    for cls in (P.BranchStep, P.ScanStep, P.WorkspaceStep):
        assert cls.can_fail is True, cls
