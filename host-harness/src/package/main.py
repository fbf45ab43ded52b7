"""Start this Dify plugin: a WebAssembly component served by dify-plugin-runtime.

Written by `dify-plugin-host package`. The plugin daemon's local runtime runs
`python -m @ENTRYPOINT@` in the unpacked package, which it extracts without exec bits; this
picks the runtime built for the machine's architecture, gives it back its exec bit, and
replaces itself with it. The runtime speaks the daemon's protocol on stdin and stdout.
Any Python 3 runs this file; it imports nothing outside the standard library.
"""

import os
import platform
import sys

COMPONENT = "@COMPONENT@"
RUNTIME = "dify-plugin-runtime"
# platform.machine() by OS and Python build -> the architecture names of Dify's manifest.
ARCHES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def fail(message):
    sys.stderr.write("@NAME@: " + message + "\n")
    sys.exit(1)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    machine = platform.machine()
    arch = ARCHES.get(machine.lower(), machine)
    folder = os.path.join(here, "runtime", arch)
    runtime = os.path.join(folder, RUNTIME)
    if not os.path.isfile(runtime):
        try:
            shipped = sorted(os.listdir(os.path.join(here, "runtime")))
        except OSError:
            shipped = []
        fail(
            "this package has no runtime for this machine (%s, %s); it has one for: %s. "
            "Add %s to meta.arch in manifest.yaml and package the plugin again"
            % (machine, arch, ", ".join(shipped) or "none", arch)
        )
    try:
        os.chmod(runtime, 0o755)
        # A plugin with tools reads its declaration from the package's root.
        os.chdir(here)
        os.execv(runtime, [runtime, os.path.join(folder, COMPONENT)])
    except OSError as e:
        fail(
            "cannot start %s: %s (is the daemon's plugin folder on a noexec volume?)"
            % (runtime, e)
        )


if __name__ == "__main__":
    main()
