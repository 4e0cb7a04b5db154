"""Turn upstream release binaries into Debian packages for many architectures and suites."""
