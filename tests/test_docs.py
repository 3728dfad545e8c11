"""docs/ops.md is the op catalog generated from the op table, and it is current."""

from pathlib import Path

from croton.op_catalog import catalog_rows, render_markdown
from croton.ops import OPS

DOC = Path(__file__).resolve().parent.parent / "docs" / "ops.md"


def test_ops_catalog_is_current():
    assert DOC.read_text() == render_markdown(catalog_rows()), (
        "docs/ops.md is stale: run `python -m croton.op_catalog > docs/ops.md`")


def test_every_primitive_is_listed_with_a_gradient_entry_and_a_test():
    text = DOC.read_text()
    for name in OPS:
        assert f"| `{name}` |" in text
    missing = [r.name for r in catalog_rows() if not r.tests and r.kind not in ("fused",
                                                                                 "fused_reduce")]
    assert not missing, f"ops no test names: {missing}"
