"""The decode benchmark's targets: each met or missed from the measured times and GMAC."""

from espnet_dynprune.analysis.bench_report import targets


def test_targets_flag_what_is_missed():
    row = {"encoder_s": 1.0, "decoder_s": 1.0, "total_s": 2.0, "gmac_total": 10.0, "gmac_encoder": 6.0,
           "gmac_decoder": 4.0}
    results = {"stock ESPnet": {**row, "decoder_s": 4.0}, "dynprune dense": row,
               "both 0.0": {**row, "total_s": 2.2}, "both 0.5": {**row, "total_s": 1.0, "gmac_total": 5.0}}
    met = {t["target"]: t["met"] for t in targets(results, None)}
    assert met == {"decode time, dense cached K/V / stock ESPnet": False,
                   "time ratio / GMAC ratio, both 0.5": True,
                   "gate overhead at sparsity 0 (both parts)": False}
