#!/usr/bin/env bash
# Pretrains the small OWSM-architecture stand-in for OWSM v3.1 on the mini corpus (all languages,
# ASR and ST) and packs it, in half precision, in the model-zoo layout at standin/, which run.sh
# fine-tunes by default (--pretrained_model standin). This is how the shipped standin/ was made;
# its meta.yaml records the command. Training is run.sh's own stages 1-11 from scratch
# (--pretrained_model none: stage 5 trains the BPE model, stage 10 collects the feature
# statistics); resumable like them.
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
. ./utils/parse_options.sh "$@"
. ./path.sh

./run.sh --stage 1 --stop_stage 11 --pretrained_model none --s2t_config "${config}" --nbpe "${num_pieces}" \
    --nj "${nj}" --europarl_st_langs "${europarl_st_langs}" --fleurs_langs "${fleurs_langs}" \
    --mini_corpus_opts "${mini_corpus_opts}" --train_threads "${train_threads}" --s2t_args "${s2t_args}" \
    --data_dir "${work}/data" --dumpdir "${work}/dump" --s2t_exp "${work}/train"

rm -rf "${out}"
python -m espnet_dynprune.recipe.pack --s2t_train_config "${work}/train/config.yaml" \
    --s2t_model_file "${work}/train/valid.acc.ave.pth" --stats_file "${work}/train_stats/train/feats_stats.npz" \
    --output_dir "${out}" --half true \
    --provenance "egs2/europarl_st/s2t1: ${command_line} (config ${config}, espnet_dynprune $(git -C "${MAIN_ROOT}" rev-parse --short HEAD 2>/dev/null || echo unknown))"
echo "packed the stand-in in ${out}"
