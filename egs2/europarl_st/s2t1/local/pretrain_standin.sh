#!/usr/bin/env bash
# Pretrains the small OWSM-architecture stand-in for OWSM v3.1 on the mini corpus (all languages,
# ASR and ST) and packs it, in half precision, in the model-zoo layout at standin/, which run.sh
# fine-tunes by default (--pretrained_model standin). This is how the shipped standin/ was made;
# its meta.yaml records the command. Resumable: ESPnet resumes training, finished stages are kept.
set -euo pipefail

nj=2
config=conf/pretrain_standin.yaml
num_pieces=300
work=exp/standin_pretrain
out=standin
europarl_st_langs="fr de it"
fleurs_langs="hu bg"
mini_corpus_opts=""
train_threads=""
s2t_args=""              # extra espnet2.bin.s2t_train arguments, e.g. "--max_epoch 1"

command_line="$0 $*"
. ./local/parse_options.sh "$@"
. ./path.sh
. ./cmd.sh
[ -n "${train_threads}" ] || train_threads=$(nproc)

./run.sh --stage 1 --stop_stage 4 --nj "${nj}" --europarl_st_langs "${europarl_st_langs}" \
    --fleurs_langs "${fleurs_langs}" --mini_corpus_opts "${mini_corpus_opts}" \
    --data_dir "${work}/data" --dumpdir "${work}/dump"
train="${work}/dump/raw/train"
valid="${work}/dump/raw/dev"
python -m espnet_dynprune.recipe.check_lengths --config "${config}" --data_dirs "${train}" "${valid}"

token_dir=$(python -m espnet_dynprune.data.token_list --text "${train}/text" \
    --out_dir "${work}/token_list/bpe_unigram${num_pieces}" --num_pieces "${num_pieces}")
common=(--config "${config}" --use_preprocessor true --token_type bpe --ngpu 0
        --bpemodel "${token_dir}/bpe.model" --token_list "${token_dir}/tokens.txt")
read -r -a data <<< "$(python -m espnet_dynprune.recipe.data_args --train "${train}" --valid "${valid}")"

if [ ! -f "${work}/stats/train/feats_stats.npz" ]; then
    ${train_cmd} "${work}/stats/collect_stats.log" python -m espnet2.bin.s2t_train --collect_stats true "${common[@]}" "${data[@]}" \
        --train_shape_file "${train}/wav.scp" --valid_shape_file "${valid}/wav.scp" \
        --output_dir "${work}/stats"
fi
# shellcheck disable=SC2086
echo "training: log in ${work}/train/train.log"
OMP_NUM_THREADS="${train_threads}" ${train_cmd} "${work}/train/train.log" python -m espnet2.bin.s2t_train "${common[@]}" "${data[@]}" \
    --normalize global_mvn --normalize_conf stats_file="${work}/stats/train/feats_stats.npz" \
    --train_shape_file "${work}/stats/train/speech_shape" --valid_shape_file "${work}/stats/valid/speech_shape" \
    --resume true --output_dir "${work}/train" ${s2t_args}

rm -rf "${out}"
python -m espnet_dynprune.zoo.pack --s2t_train_config "${work}/train/config.yaml" \
    --s2t_model_file "${work}/train/valid.acc.ave.pth" --stats_file "${work}/stats/train/feats_stats.npz" \
    --output_dir "${out}" --half true \
    --provenance "egs2/europarl_st/s2t1: ${command_line} (config ${config}, espnet_dynprune $(git -C "${MAIN_ROOT}" rev-parse --short HEAD 2>/dev/null || echo unknown))"
echo "packed the stand-in in ${out}"
