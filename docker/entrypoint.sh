#!/bin/sh
# Entry point of the patchcore image: `patchcore train` with the container's data and output
# folders as defaults, or any other patchcore subcommand when the first argument names one.
set -e
case "${1:-}" in
  train) shift ;;
  predict|merge|export|fetch-weights|make-demo-data|eval|help|-h|--help|--version)
    exec /usr/local/bin/patchcore "$@" ;;
esac
data=--data-dir; output=--output
for arg in "$@"; do  # options the caller gave win over the defaults
  case "$arg" in
    --data-dir|--data-dir=*) data= ;;
    --output|--output=*) output= ;;
  esac
done
exec /usr/local/bin/patchcore train ${data:+--data-dir /workspace/data} ${output:+--output /workspace/output} "$@"
