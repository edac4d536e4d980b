"""``python -m espnet_dynprune.bin.s2t_train``: ESPnet's S2T training, dynprune registered.

Same arguments as ``python -m espnet2.bin.s2t_train``.
"""

from espnet_dynprune.registration import register_s2t


def main(cmd=None) -> None:
    register_s2t()
    from espnet2.tasks.s2t import S2TTask

    S2TTask.main(cmd=cmd)


if __name__ == "__main__":
    main()
