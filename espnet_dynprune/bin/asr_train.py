"""``python -m espnet_dynprune.bin.asr_train``: ESPnet's ASR training, dynprune registered.

Same arguments as ``python -m espnet2.bin.asr_train`` (use ``gate_predictor:
speech``: ASR models carry no language/task context).
"""

from espnet_dynprune.registration import register_asr


def main(cmd=None) -> None:
    register_asr()
    from espnet2.tasks.asr import ASRTask

    ASRTask.main(cmd=cmd)


if __name__ == "__main__":
    main()
