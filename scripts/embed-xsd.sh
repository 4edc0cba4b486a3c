#!/bin/sh
# embed-xsd.sh: turn models/experiment.xsd into a C string literal that
# src/experiment/experiment.c compiles in, so that the program validates
# experiment files without looking for the schema at run time.
#
#   sh scripts/embed-xsd.sh [models/experiment.xsd [src/experiment/experiment_xsd.inc [NAME]]]
#
# NAME: the C array (default experiment_xsd).
#
# Run it after every change to the schema (test_experiment checks that the
# compiled-in copy equals the file).  A Makefile rule could do the same:
#   src/experiment/experiment_xsd.inc: models/experiment.xsd scripts/embed-xsd.sh
#   	sh scripts/embed-xsd.sh $< $@
set -eu
in=${1:-models/experiment.xsd}
out=${2:-src/experiment/experiment_xsd.inc}
name=${3:-experiment_xsd}
tmp="$out.tmp.$$"
{
    echo "/* Generated from $in by scripts/embed-xsd.sh: do not edit. */"
    echo "static const char $name[] ="
    # escape backslashes and double quotes; one literal per line
    sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/    "/' -e 's/$/\\n"/' "$in"
    echo "    ;"
} > "$tmp"
mv "$tmp" "$out"
