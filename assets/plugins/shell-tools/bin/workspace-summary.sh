#!/bin/sh
# Prints how many files the workspace holds and how much space they take (POSIX sh: no bash needed).
set -eu
dir="${1:-.}"
files=$(find "$dir" -type f | wc -l | tr -d ' ')
size=$(du -sk "$dir" | cut -f1)
echo "files: $files"
echo "size_kib: $size"
