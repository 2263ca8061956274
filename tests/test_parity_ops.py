"""Per-operator parity against onnxruntime: one small graph per op variant (model_zoo.OP_CASES),
each also behind a 1x1 Conv so the op reads a tensor in edgert's internal layout, plus one graph
chaining every claimed op."""

import pytest

import model_zoo as mz

OP_PARAMS = [pytest.param(case, False, id=case.name) for case in mz.OP_CASES] + [
    pytest.param(case, True, id=f"{case.name}-after_conv") for case in mz.OP_CASES if case.rank >= 3
]


@pytest.mark.parametrize("case, pre_conv", OP_PARAMS)
def test_op_matches_onnxruntime(case, pre_conv, check_parity, random_feeds):
    model = mz.op_model(case, pre_conv=pre_conv)
    check_parity(model, random_feeds(model, input_range=case.input_range))


@pytest.mark.parametrize("size, batch", [((20, 24), 2), ((17, 31), 1), ((9, 12), 3)])
def test_all_ops_model_matches_onnxruntime(size, batch, check_parity, random_feeds):
    model = mz.all_ops_model(size=size, batch=batch)
    check_parity(model, random_feeds(model, seed=batch))


def _op_types(model):
    return {node.op_type for node in model.graph.node}


def test_all_ops_model_uses_exactly_the_claimed_ops():
    used = _op_types(mz.all_ops_model())
    assert not mz.CLAIMED_OPS - used, f"claimed but not in all_ops_model: {sorted(mz.CLAIMED_OPS - used)}"
    assert not used - mz.CLAIMED_OPS, f"all_ops_model uses unclaimed ops: {sorted(used - mz.CLAIMED_OPS)}"


def test_op_cases_cover_every_claimed_op():
    used = set().union(*(_op_types(mz.op_model(case)) for case in mz.OP_CASES))
    assert not mz.CLAIMED_OPS - used, f"claimed ops without a per-op case: {sorted(mz.CLAIMED_OPS - used)}"
