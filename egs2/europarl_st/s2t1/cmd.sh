# Job launchers (sourced by run.sh), as in ESPnet's egs2/*/cmd.sh. They take Kaldi's run.pl /
# slurm.pl command line ("${cmd} [--gpu N] [--mem 4G] [JOB=1:N] log command ..."), implemented
# by espnet_dynprune.recipe.launch so no Kaldi checkout is needed.
#   local: run here (jobs in parallel).   slurm: sbatch --wait (job arrays for JOB=1:N).
# Add sbatch options with e.g. --partition gpu --time 24:00:00 in cuda_cmd below.
case "${cmd_backend:-local}" in
    local|slurm)
        train_cmd="python -m espnet_dynprune.recipe.launch --backend ${cmd_backend:-local}"
        cuda_cmd="python -m espnet_dynprune.recipe.launch --backend ${cmd_backend:-local}"
        decode_cmd="python -m espnet_dynprune.recipe.launch --backend ${cmd_backend:-local}"
        ;;
    *)
        echo "cmd.sh: cmd_backend='${cmd_backend}' is not one of: local slurm" >&2
        return 1 2>/dev/null || exit 1
        ;;
esac
