#!/bin/sh
# npm run helm:lint — lints and renders the chart with real Helm where it is installed:
#   helm lint --strict, then helm template, with each values file in helm/captcha-gateway/ci/;
#   then helm template with each file in test/helm/fixtures/render-fails/, which must fail with
#   the message its first line names ("# fails: <text>").
# Without helm on PATH it says so and exits 0: the project's own tests (test/helm/) still check
# the chart's values, schema and templates statically.
set -eu
root="$(cd "$(dirname "$0")/.." && pwd)"
chart="$root/helm/captcha-gateway"

if ! command -v helm >/dev/null 2>&1; then
  echo "helm:lint: helm is not on PATH, so the chart was not linted or rendered" \
    "(install Helm 3.8+ to run it)."
  exit 0
fi

status=0
for values in "$chart"/ci/*.yaml; do
  name="$(basename "$values")"
  echo "== $name"
  if ! helm lint --strict "$chart" --values "$values"; then
    status=1
  fi
  if ! helm template lint-release "$chart" --namespace lint --values "$values" >/dev/null; then
    echo "helm template failed with $name" >&2
    status=1
  fi
done

for values in "$root"/test/helm/fixtures/render-fails/*.yaml; do
  name="$(basename "$values")"
  expected="$(sed -n '1s/^# fails: //p' "$values")"
  if output="$(helm template lint-release "$chart" --namespace lint --values "$values" 2>&1)"; then
    echo "render-fails/$name: rendered, but it must fail with: $expected" >&2
    status=1
  elif ! printf '%s' "$output" | grep -qF -- "$expected"; then
    echo "render-fails/$name: failed without \"$expected\":" >&2
    printf '%s\n' "$output" >&2
    status=1
  else
    echo "== render-fails/$name fails as expected"
  fi
done
exit "$status"
