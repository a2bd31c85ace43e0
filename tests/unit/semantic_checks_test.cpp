#include "riasc/kinds/semantic_checks.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_support.hpp"

namespace riasc::kinds {
namespace {

using test::messages;
using test::yaml;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::vector<std::string> warnings(const SemanticFindings& findings) {
  std::vector<std::string> out;
  for (const auto& warning : findings.warnings)
    out.push_back(warning.path.to_string() + ": " + warning.message);
  return out;
}

Json profile(const std::string& spec) {
  return yaml("{apiVersion: k8s-netem.riasc.eu/v1, kind: TrafficProfile, metadata: {name: p}, spec: " + spec +
              "}");
}

TEST(TrafficProfileRulesTest, ValidProfileHasNoFindings) {
  const auto findings = check_semantics(profile(
      "{podSelector: {}, type: Builtin, parameters: {netem: {delay: '200ms', jitter: 0.01, rate: '10mbit'}}, "
      "egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}], "
      "ports: [{port: 1000, endPort: 2000}]}]}"));
  EXPECT_THAT(messages(findings.errors), IsEmpty());
  EXPECT_THAT(warnings(findings), IsEmpty());
}

TEST(TrafficProfileRulesTest, DurationStringsAreLimitedToWhatNetemHolds) {
  const auto findings = check_semantics(
      profile("{podSelector: {}, parameters: {netem: {delay: '4294s', jitter: '2h', slot_delay: [1]}}}"));
  EXPECT_THAT(
      messages(findings.errors),
      ElementsAre(R"(spec.parameters.netem.jitter: Invalid value: "2h": must be at most 4294.967295 s)",
                  "spec.parameters.netem.slot_delay: Invalid value: [1]: must be a number of seconds or "
                  "a duration string such as \"200ms\""));
}

TEST(TrafficProfileRulesTest, TraceSeriesStartAtZeroIncreaseAndLetTheLinkComeUp) {
  const std::string at = "spec.parameters.netem.trace";
  const auto errors = [](const std::string& trace) {
    return messages(
        check_semantics(profile("{podSelector: {}, parameters: {netem: {trace: " + trace + "}}}")).errors);
  };
  EXPECT_THAT(errors("{delay: [{at: 0, value: 20ms}, {at: 10s, value: 1m}], rate: [{at: 0, value: 10mbit}, "
                     "{at: 5, value: 0}, {at: 7.5, value: 1mbit}], period: 60s}"),
              IsEmpty());
  EXPECT_THAT(
      errors("{delay: [{at: 1s, value: 20ms}]}"),
      ElementsAre(at +
                  R"(.delay[0].at: Invalid value: "1s": must be 0: a series starts where the trace starts)"));
  EXPECT_THAT(
      errors("{rate: [{at: 0, value: 1mbit}, {at: 2s, value: 1mbit}, {at: 2000ms, value: 1mbit}]}"),
      ElementsAre(at + R"(.rate[2].at: Invalid value: "2000ms": must be later than the previous point's at )"
                       R"(("2s"): points are in increasing order of at)"));
  EXPECT_THAT(errors("{delay: [{at: 0, value: 1h}, {at: 200h, value: 0}]}"),
              ElementsAre(at + R"(.delay[0].value: Invalid value: "1h": must be below 3600 s)",
                          at + R"(.delay[1].at: Invalid value: "200h": must be at most 604800 s)"));
  EXPECT_THAT(
      errors("{delay: [{at: 0, value: 0}, {at: 8s, value: 0}], rate: [{at: 0, value: 1mbit}], period: 8}"),
      ElementsAre(at + ".period: Invalid value: 8: must be 0 (the last points hold) or greater than the last "
                       "at of trace.delay (\"8s\")"));
  EXPECT_THAT(errors("{rate: [{at: 0, value: 0mbit}, {at: 1, value: 0}], period: 2}"),
              ElementsAre(at + R"(.rate: Invalid value: [{"at":0,"value":"0mbit"},{"at":1,"value":0}]: is 0 )"
                               "throughout: the link would never be up"));
  EXPECT_THAT(
      errors("{rate: [{at: 0, value: 1mbit}, {at: 1, value: 0}]}"),
      ElementsAre(at + ".rate[1].value: Invalid value: 0: ends the series with the link down, and without "
                       "a period it would never come up again: end with a rate > 0 or set a period"));
}

TEST(TrafficProfileRulesTest, AConstantThatATraceSeriesReplacesIsWarnedAbout) {
  const auto findings = check_semantics(
      profile("{podSelector: {}, parameters: {netem: {delay: 20ms, rate: 0, trace: {delay: [{at: 0, value: "
              "10ms}]}}}}"));
  EXPECT_THAT(messages(findings.errors), IsEmpty());
  EXPECT_THAT(warnings(findings),
              ElementsAre("spec.parameters.netem.delay: ignored: trace.delay replaces delay"));
}

TEST(TrafficProfileRulesTest, SlotMaxDelayIsAtLeastSlotMinDelay) {
  const auto findings = check_semantics(
      profile("{podSelector: {}, parameters: {netem: {slot_min_delay: '20ms', slot_max_delay: 0.01}}}"));
  EXPECT_THAT(messages(findings.errors),
              ElementsAre("spec.parameters.netem.slot_max_delay: Invalid value: 0.01: must be at least "
                          "slot_min_delay (or 0 to mean equal to it)"));
}

TEST(TrafficProfileRulesTest, PortRanges) {
  const auto findings =
      check_semantics(profile("{podSelector: {}, parameters: {}, ingress: [{ports: [{port: 100, endPort: "
                              "99}, {port: http, endPort: 90}]}]}"));
  EXPECT_THAT(
      messages(findings.errors),
      ElementsAre("spec.ingress[0].ports[0].endPort: Invalid value: 99: must be greater than or equal to "
                  "port (100)",
                  "spec.ingress[0].ports[1].endPort: Invalid value: 90: requires a numeric port"));
}

TEST(TrafficProfileRulesTest, ExceptMustLieInsideCidr) {
  const auto findings = check_semantics(
      profile("{podSelector: {}, parameters: {}, egress: [{to: [{ipBlock: {cidr: '2001:db8::/32', "
              "except: ['2001:db8:1::/48', '2001:db9::/48', 10.0.0.0/8, 'x/8']}}, {ipBlock: {cidr: "
              "300.0.0.0/8}}]}]}"));
  EXPECT_THAT(
      messages(findings.errors),
      ElementsAre(
          R"(spec.egress[0].to[0].ipBlock.except[1]: Invalid value: "2001:db9::/48": must lie inside cidr 2001:db8::/32)",
          R"(spec.egress[0].to[0].ipBlock.except[2]: Invalid value: "10.0.0.0/8": must lie inside cidr 2001:db8::/32)",
          R"(spec.egress[0].to[0].ipBlock.except[3]: Invalid value: "x/8": must be a network in CIDR notation, e.g. 192.0.2.0/28)",
          R"(spec.egress[0].to[1].ipBlock.cidr: Invalid value: "300.0.0.0/8": must be a network in CIDR notation, e.g. 192.0.2.0/24 or 2001:db8::/32)"));
}

TEST(TrafficProfileRulesTest, ParametersOfTheOtherTypeAreWarnedAbout) {
  EXPECT_THAT(
      warnings(check_semantics(profile("{podSelector: {}, type: Flexe, parameters: {netem: {}}}"))),
      ElementsAre("spec.parameters.netem: ignored: netem is for type Builtin, this profile is Flexe",
                  "spec.parameters: type Flexe without profiles shapes nothing; add parameters.profiles"));
  EXPECT_THAT(
      warnings(
          check_semantics(profile("{podSelector: {}, parameters: {profiles: [{name: a}], segments: []}}"))),
      ElementsAre("spec.parameters.segments: ignored: segments is for type Flexe, this profile is Builtin",
                  "spec.parameters.profiles: ignored: profiles is for type Flexe, this profile is Builtin"));
}

TEST(SchedulerConfigRulesTest, TasksReferToDefinedEntries) {
  const auto findings = check_semantics(yaml(R"(
apiVersion: riasc.eu/v1
kind: SchedulerConfig
metadata: {name: s}
spec:
  groups: {g: {type: mesh}}
  tests: {t: {type: rtt}}
  schedules: {hourly: {repeat: PT1H}}
  tasks:
    ok: {group: g, test: t, schedule: hourly}
    broken: {group: h, test: t, schedule: daily, archives: [esmond]}
)"));
  EXPECT_THAT(
      messages(findings.errors),
      ElementsAre(
          R"(spec.tasks[broken].group: Invalid value: "h": must name an entry of spec.groups: g)",
          R"(spec.tasks[broken].schedule: Invalid value: "daily": must name an entry of spec.schedules: hourly)",
          R"(spec.tasks[broken].archives[0]: Invalid value: "esmond": spec.archives defines nothing to refer to)"));
}

TEST(Chroma4QRulesTest, SetpointsBeyondLimitsAndExtraPhasesAreWarnedAbout) {
  const auto findings = check_semantics(yaml(R"(
apiVersion: device.riasc.eu/v1
kind: Chroma4Q
metadata: {name: c}
spec:
  phases: [1]
  parameters: {maxVoltageAC: 235, maxFrequency: 55}
  setpoints: {voltageRMS: [230, 240], frequency: [56]}
)"));
  EXPECT_THAT(messages(findings.errors), IsEmpty());
  EXPECT_THAT(
      warnings(findings),
      ElementsAre("spec.setpoints.voltageRMS: has 2 values for 1 phase(s); the extra values are ignored",
                  "spec.setpoints.voltageRMS[1]: 240 exceeds parameters.maxVoltageAC (235); the operator "
                  "will refuse to apply it",
                  "spec.setpoints.frequency[0]: 56 exceeds parameters.maxFrequency (55); the operator will "
                  "refuse to apply it"));
}

TEST(SemanticRulesTest, OtherKindsAndMalformedObjectsHaveNoFindings) {
  for (const char* text : {"{apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {}}", "[1, 2]",
                           "{kind: 5}", "{apiVersion: riasc.eu/v1, kind: Project, spec: {users: [a]}}"}) {
    const auto findings = check_semantics(yaml(text));
    EXPECT_THAT(messages(findings.errors), IsEmpty()) << text;
    EXPECT_THAT(warnings(findings), IsEmpty()) << text;
  }
}

}  // namespace
}  // namespace riasc::kinds
