"""Stage 1 CLI: all three corpora into train/dev/test dirs, segments, test_sets.txt."""

from __future__ import annotations

from pathlib import Path

from espnet_dynprune.corpora.format_audio import format_audio
from espnet_dynprune.owsm.datadir import read_map, read_segments
from espnet_dynprune.recipe import prepare_data
from tests.builders.corpus_files import make_europarl_split, make_fleurs_split, make_voxforge_session, needs_ffmpeg


def _corpora(tmp_path: Path) -> dict:
    epst = tmp_path / "v1.1"
    for src, word in (("fr", "bonjour"), ("it", "buongiorno")):
        for split in ("train", "dev", "test"):
            audio_id = f"{src}.2009.{split}-1"
            rows = [(audio_id, 0.2, 0.9, f"{word} {split}", f"hello {split}"), (audio_id, 1.0, 1.8, word, "hello")]
            make_europarl_split(epst, src, split, rows, {audio_id: 2.0})
    fleurs = tmp_path / "fleurs"
    for split in ("train", "dev", "test"):
        make_fleurs_split(fleurs, "hu_hu", split, [("5", f"hu{split}.wav", "Szia.")])
        make_fleurs_split(fleurs, "en_us", split, [("5", f"en{split}.wav", "Hi.")], audio=False)
    vox = tmp_path / "voxforge"
    for i in range(4):
        make_voxforge_session(vox, "bg", f"user{i}-2010-a", {"x1": "едно"})
    return {"europarl_st": str(epst), "fleurs": str(fleurs), "voxforge": str(vox)}


@needs_ffmpeg
def test_prepare_then_format(tmp_path: Path) -> None:
    roots = _corpora(tmp_path)
    out = tmp_path / "data"
    prepare_data.main(
        ["--out_dir", str(out), "--europarl_st", roots["europarl_st"], "--europarl_st_langs", "fr,it",
         "--fleurs", roots["fleurs"], "--fleurs_langs", "hu", "--voxforge", roots["voxforge"],
         "--voxforge_dev_fraction", "0.25", "--voxforge_test_fraction", "0.25"]
    )  # fmt: skip
    names = (out / "test_sets.txt").read_text().split()
    assert names == [
        "test_epst_fra_asr", "test_epst_fra_st_eng", "test_epst_ita_asr", "test_epst_ita_st_eng",
        "test_fleurs_hun_asr", "test_fleurs_hun_st_eng", "test_voxforge_bul_asr",
    ]  # fmt: skip
    st_text = read_map(out / "test_fleurs_hun_st_eng/text")
    assert st_text == {"fleurs.hun.hutest-5_st_eng": "<hun><st_eng><notimestamps> Hi."}
    assert not (out / "test_fleurs_hun_asr/segments").exists()
    assert len(read_map(out / "test_epst_ita_st_eng/text")) == 2

    train = out / "train"
    text = read_map(train / "text")
    assert len(text) == 2 * 2 * 2 + 2 + 2  # epst: 2 langs x 2 segments x 2 tasks; fleurs: asr+st; voxforge: 2 speakers
    segments = read_segments(train / "segments")
    assert segments["fleurs.hun.hutrain-5_asr"].end == -1.0
    epst_seg = segments["epst.fra.fr.2009.train.1-0000200_0000900_st_eng"]
    assert (epst_seg.rec_id, epst_seg.start, epst_seg.end) == ("epst.fra.fr.2009.train.1", 0.2, 0.9)
    wav_scp = read_map(train / "wav.scp")
    assert wav_scp["epst.fra.fr.2009.train.1"].endswith("fr/audios/fr.2009.train-1.m4a")
    assert read_map(train / "text.prev")["fleurs.hun.hutrain-5_st_eng"] == "<na>"
    assert read_map(train / "text.ctc")["epst.ita.it.2009.train.1-0000200_0000900_st_eng"] == "buongiorno train"

    dump = tmp_path / "dump/raw/train"
    format_audio(train, dump, nj=1)
    dumped = read_map(dump / "wav.scp")
    assert sorted(dumped) == sorted(text)
    assert len(set(dumped.values())) == len(text) - 5  # ASR and ST of 4 epst segments and 1 fleurs row share
    samples = read_map(dump / "utt2num_samples")
    assert abs(int(samples["epst.fra.fr.2009.train.1-0001000_0001800_asr"]) - 12800) <= 1
    vox = [u for u in samples if u.startswith("voxforge.")]
    assert len(vox) == 2 and all(int(samples[u]) == 8000 for u in vox)  # 0.5 s at 48 kHz, resampled
