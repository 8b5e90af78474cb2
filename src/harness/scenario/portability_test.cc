#include "harness/scenario/portability.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crisp::scenario {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

const std::string kFixtures = std::string(CRISP_SOURCE_DIR) + "/fixtures/testdata";

std::vector<Diagnostic> Lint(const std::string& text) {
  LoadResult loaded = LoadSuiteText(text, "s.yaml", kFixtures);
  EXPECT_TRUE(loaded.ok()) << (loaded.diagnostics.empty() ? "" : loaded.diagnostics[0].ToString());
  std::vector<Diagnostic> out;
  for (const Suite& suite : loaded.suites) {
    for (Diagnostic& warning : PortabilityWarnings(suite)) out.push_back(std::move(warning));
  }
  return out;
}

TEST(PortabilityTest, IdentifierPatternsAndWholeMapsAreFlaggedWithTheirLine) {
  std::vector<Diagnostic> warnings = Lint(R"(scenarios:
  - id: a.pins
    title: pins forms
    steps:
      - call: PullImage
        request: {image: {image: busybox}}
        save: pulled
        expect:
          that:
            image_ref: {matches: '^sha256:[0-9a-f]{64}$'}
      - call: ListContainers
        expect:
          any_of:
            - that:
                containers[0].image_id: {matches: 'sha256:'}
            - {code: NotFound}
      - call: PodSandboxStatus
        request: {pod_sandbox_id: x}
        expect:
          that:
            status.labels: {equals: {a: b}}
            status.labels['a']: b
            status.annotations: {equals: {a: b}}
            status.id: {matches: '\S'}
)");
  ASSERT_THAT(warnings, SizeIs(3));
  EXPECT_EQ(warnings[0].where.line, 10);
  EXPECT_THAT(warnings[0].message, HasSubstr("image_ref matches a pattern, but the form of an identifier is the runtime's"));
  EXPECT_EQ(warnings[1].where.line, 15);
  EXPECT_THAT(warnings[1].message, HasSubstr("containers[0].image_id"));
  EXPECT_EQ(warnings[2].where.line, 21);
  EXPECT_THAT(warnings[2].message, HasSubstr("status.labels is compared whole, but a runtime may add to it"));
}

TEST(PortabilityTest, ContainsReferencesAndStrictScenariosPass) {
  EXPECT_THAT(Lint(R"(scenarios:
  - id: a.portable
    title: portable
    steps:
      - call: ImageStatus
        request: {image: {image: busybox}}
        save: st
        expect:
          that:
            image.id: {matches: '\S'}
            image.repo_digests[0]: {matches: '@sha256:[0-9a-f]{64}$'}
      - call: ListPodSandbox
        expect:
          that:
            items[0].labels: {contains: {a: b}}
            items[0].id: "${st.image.id}"
  - id: a.strict
    title: strict on purpose
    strict: the runtime under test documents this exact form
    steps:
      - call: PullImage
        request: {image: {image: busybox}}
        expect: {that: {image_ref: {matches: '^sha256:'}}}
)"), SizeIs(0));
}

TEST(PortabilityTest, ShippedSuitesAreClean) {
  LoadResult loaded = LoadSuites({std::string(CRISP_SOURCE_DIR) + "/suites"});
  ASSERT_TRUE(loaded.ok());
  for (const Suite& suite : loaded.suites) {
    for (const Diagnostic& warning : PortabilityWarnings(suite)) ADD_FAILURE() << warning.ToString();
  }
}

}  // namespace
}  // namespace crisp::scenario
