# Sourced by benchmarks/compare_*.sh from the repository root: installs safnet's Debian
# packages and Debian's python3-torch if missing, and sets glibc's malloc so that PyTorch
# does not return memory to the kernel (its best configuration here: without it page faults
# halve its inference speed).
bash scripts/dev/install-deps.sh
if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
    sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-torch
fi
export MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736
