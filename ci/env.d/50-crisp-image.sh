# crisp's own image: deploy/build-image packs a crisp binary of this build
# and its libraries, and `ci/env crisp-image [CRISP]` pushes it to the local
# registry as crispproject/crisp:<version> and :latest (pulled as
# docker.io/crispproject/crisp:...). Not part of `up`: ci/test brings the
# environment up before it builds crisp, and the fleet e2e test pushes the
# crisp it tests.

crisp_image_push() {
  local crisp=${1:-$repo/build/ci/src/harness/crisp} dir="$CRISP_ENV_DIR/crisp-image"
  local log="$CRISP_ENV_DIR/crisp-image.log" layout ref name
  [ -x "$crisp" ] || die "crisp-image: no crisp at $crisp (build it first: cmake --build build/ci)"
  [ -f "$CRISP_ENV_DIR/env" ] || die "crisp-image: the environment is not up (ci/env up)"
  # shellcheck disable=SC1091
  source "$CRISP_ENV_DIR/env"
  registry_answers || die "crisp-image: the registry at $CRISP_REGISTRY does not answer (ci/env up)"
  rm -rf "$dir"
  "$repo/deploy/build-image" "$crisp" "$dir" > "$log" 2>&1 || fail crisp-image "$log" "deploy/build-image failed"
  while read -r layout ref name; do
    skopeo copy --quiet --dest-tls-verify=false "oci:$layout:$ref" "docker://$CRISP_REGISTRY/${name#*/}" \
      >> "$log" 2>&1 || fail crisp-image "$log" "pushing $name failed"
    say "crisp-image: pushed $name"
  done < "$dir/images.list"
}
