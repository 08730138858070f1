#!/usr/bin/env bash
# debian-changelog.sh VERSION: the debian/changelog `make deb` builds with. The package is
# native and its version is the project's (VERSION); the date is the last commit's, so two
# builds of the same tree are the same package.
set -euo pipefail
version=${1:?usage: debian-changelog.sh VERSION}
when=${SOURCE_DATE_EPOCH:-$(git -C "$(dirname "$0")/.." log -1 --format=%ct 2>/dev/null || date +%s)}
cat <<CHANGELOG
printbridge ($version) unstable; urgency=medium

  * printbridge $version, built from the source tree (its history is in git).

 -- printbridge maintainers <maintainers@printbridge.example>  $(date -u -R -d "@$when")
CHANGELOG
