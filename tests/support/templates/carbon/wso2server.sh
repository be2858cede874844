#!/bin/sh
# Launcher of the Carbon stand-in (tests/support/carbon_standin) in the fixture
# distributions of wso2-cluster-installer. It finds CARBON_HOME the way the real
# Carbon script does, changes to it, and runs the stand-in where Carbon runs a JVM.
#
#   CARBON_STANDIN_PYTHON      the Python to run (default: python3)
#   CARBON_STANDIN_PYTHONPATH  put in front of PYTHONPATH, so that the tests package imports

# $0 may be a symbolic link: follow it to the real script.
PRG="$0"
while [ -h "$PRG" ]; do
    link=`ls -ld "$PRG" | sed 's/.*-> //'`
    case "$link" in
        /*) PRG="$link" ;;
        *) PRG=`dirname "$PRG"`/"$link" ;;
    esac
done
PRGDIR=`dirname "$PRG"`

# As in Carbon, a CARBON_HOME set by the caller wins over the script's location.
[ -z "$CARBON_HOME" ] && CARBON_HOME=`cd "$PRGDIR/.." ; pwd`
export CARBON_HOME

if [ -n "$CARBON_STANDIN_PYTHONPATH" ]; then
    PYTHONPATH="$CARBON_STANDIN_PYTHONPATH${PYTHONPATH:+:$PYTHONPATH}"
    export PYTHONPATH
fi

echo "CARBON_HOME environment variable is set to $CARBON_HOME"
cd "$CARBON_HOME" || exit 1
exec "${CARBON_STANDIN_PYTHON:-python3}" -m tests.support.carbon_standin --carbon-home "$CARBON_HOME" @{extra_arguments}"$@"
