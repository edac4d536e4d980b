"""The throughput ladder's rungs: how they are written, normalised and refused."""

import pytest

from espnet_dynprune.analysis.throughput import parse_rung, precisions_needed


@pytest.mark.parametrize("spec, message", [("stock:8:bf16:fp32", "stock ESPnet decodes in fp32"),
                                           ("stock:8/2", "its whole batch in one encoder call"), ("dense:0", "MODEL:BATCH"),
                                           ("1.5:8", "MODEL:BATCH"), ("dense:8:fp16:fp32", "MODEL:BATCH"),
                                           ("dense:4/5", "ENCODER_BATCH <= BATCH"), ("dense:4/x", "MODEL:BATCH"),
                                           ("on:8", "MODEL:BATCH"), ("0.5,1.0:8", "MODEL:BATCH"),
                                           ("0.5,on,0.5:8", "MODEL:BATCH"), ("off,on:8", "MODEL:BATCH")])
def test_a_bad_rung_is_named(spec, message):
    with pytest.raises(ValueError, match=message) as error:
        parse_rung(spec)
    assert repr(spec) in str(error.value)


def test_rungs_normalise_and_name_the_copies_they_need():
    rungs = [parse_rung(s) for s in ("dense", "0.5:8", "0.5:8/1:bf16:int8", "stock:1", "dense:4/4")]
    assert [r.spec for r in rungs] == ["dense:1:fp32:fp32", "0.5:8:fp32:fp32", "0.5:8/1:bf16:int8", "stock:1:fp32:fp32",
                                       "dense:4:fp32:fp32"]
    assert rungs[2].encoder_batch == 1 and rungs[4].encoder_batch is None
    assert rungs[1].gates == {"encoder": 0.5, "decoder": 0.5} and rungs[3].gates is None
    assert parse_rung("0.9,on:8/1").gates == {"encoder": 0.9, "decoder": "on"}
    assert parse_rung("on,0.3").gates == {"encoder": "on", "decoder": 0.3}
    assert precisions_needed(rungs) == ["bf16:int8"]
