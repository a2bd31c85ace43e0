#include "riasc/kubeapi/resource_path.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fmt/format.h>

namespace riasc::kubeapi {
namespace {

using Kind = ResourcePath::Kind;

std::string kind_name(Kind kind) {
  switch (kind) {
    case Kind::Version:
      return "Version";
    case Kind::Healthz:
      return "Healthz";
    case Kind::Livez:
      return "Livez";
    case Kind::Readyz:
      return "Readyz";
    case Kind::Metrics:
      return "Metrics";
    case Kind::OpenApiV2:
      return "OpenApiV2";
    case Kind::OpenApiV3:
      return "OpenApiV3";
    case Kind::LegacyVersions:
      return "LegacyVersions";
    case Kind::GroupList:
      return "GroupList";
    case Kind::Group:
      return "Group";
    case Kind::ResourceList:
      return "ResourceList";
    case Kind::Resource:
      return "Resource";
  }
  return "?";
}

// Every field of the parse, on one line: kind rest=… g=… v=… ns=… r=… n=… sub=… [watch].
std::string describe(std::string_view path) {
  ResourcePath p = parse_resource_path(path);
  return fmt::format("{} rest={} g={} v={} ns={} r={} n={} sub={}{}", kind_name(p.kind), p.rest, p.group,
                     p.version, p.namespace_name, p.resource, p.name, p.subresource,
                     p.watch_prefix ? " watch" : "");
}

TEST(ResourcePathTest, NamespacedResources) {
  EXPECT_EQ(describe("/api/v1/namespaces/ns/pods"), "Resource rest= g= v=v1 ns=ns r=pods n= sub=");
  EXPECT_EQ(describe("/api/v1/namespaces/ns/pods/web"), "Resource rest= g= v=v1 ns=ns r=pods n=web sub=");
  EXPECT_EQ(describe("/api/v1/namespaces/ns/pods/web/status"),
            "Resource rest= g= v=v1 ns=ns r=pods n=web sub=status");
  EXPECT_EQ(describe("/apis/example.com/v1/namespaces/default/widgets"),
            "Resource rest= g=example.com v=v1 ns=default r=widgets n= sub=");
  EXPECT_EQ(describe("/apis/example.com/v1/namespaces/default/widgets/wa"),
            "Resource rest= g=example.com v=v1 ns=default r=widgets n=wa sub=");
  EXPECT_EQ(describe("/apis/k8s-netem.riasc.eu/v1/namespaces/lab/trafficprofiles/tp/status"),
            "Resource rest= g=k8s-netem.riasc.eu v=v1 ns=lab r=trafficprofiles n=tp sub=status");
}

TEST(ResourcePathTest, ClusterScopedAndAllNamespaces) {
  EXPECT_EQ(describe("/apis/example.com/v1/gadgets"),
            "Resource rest= g=example.com v=v1 ns= r=gadgets n= sub=");
  EXPECT_EQ(describe("/apis/example.com/v1/gadgets/g1"),
            "Resource rest= g=example.com v=v1 ns= r=gadgets n=g1 sub=");
  EXPECT_EQ(describe("/apis/example.com/v1/gadgets/g1/status"),
            "Resource rest= g=example.com v=v1 ns= r=gadgets n=g1 sub=status");
  // kubectl get -A: the namespaced resource without a namespace.
  EXPECT_EQ(describe("/apis/example.com/v1/widgets"),
            "Resource rest= g=example.com v=v1 ns= r=widgets n= sub=");
  EXPECT_EQ(describe("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com"),
            "Resource rest= g=apiextensions.k8s.io v=v1 ns= r=customresourcedefinitions "
            "n=widgets.example.com sub=");
  EXPECT_EQ(describe("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"),
            "Resource rest= g=authorization.k8s.io v=v1 ns= r=selfsubjectaccessreviews n= sub=");
}

TEST(ResourcePathTest, NamespacesAsResource) {
  EXPECT_EQ(describe("/api/v1/namespaces"), "Resource rest= g= v=v1 ns= r=namespaces n= sub=");
  EXPECT_EQ(describe("/api/v1/namespaces/team"), "Resource rest= g= v=v1 ns=team r=namespaces n=team sub=");
  EXPECT_EQ(describe("/api/v1/namespaces/team/status"),
            "Resource rest= g= v=v1 ns=team r=namespaces n=team sub=status");
  EXPECT_EQ(describe("/api/v1/namespaces/team/finalize"),
            "Resource rest= g= v=v1 ns=team r=namespaces n=team sub=finalize");
  // Anything else after the namespace name is a resource in that namespace.
  EXPECT_EQ(describe("/api/v1/namespaces/team/configmaps"),
            "Resource rest= g= v=v1 ns=team r=configmaps n= sub=");
}

TEST(ResourcePathTest, WatchPrefix) {
  EXPECT_EQ(describe("/api/v1/watch/namespaces/ns/pods"),
            "Resource rest= g= v=v1 ns=ns r=pods n= sub= watch");
  EXPECT_EQ(describe("/apis/example.com/v1/watch/gadgets/g1"),
            "Resource rest= g=example.com v=v1 ns= r=gadgets n=g1 sub= watch");
}

TEST(ResourcePathTest, Discovery) {
  EXPECT_EQ(describe("/api"), "LegacyVersions rest= g= v= ns= r= n= sub=");
  EXPECT_EQ(describe("/apis"), "GroupList rest= g= v= ns= r= n= sub=");
  EXPECT_EQ(describe("/api/v1"), "ResourceList rest= g= v=v1 ns= r= n= sub=");
  EXPECT_EQ(describe("/apis/example.com"), "Group rest= g=example.com v= ns= r= n= sub=");
  EXPECT_EQ(describe("/apis/example.com/v1"), "ResourceList rest= g=example.com v=v1 ns= r= n= sub=");
  EXPECT_EQ(describe("/apis/example.com/v1/"), "ResourceList rest= g=example.com v=v1 ns= r= n= sub=");
}

TEST(ResourcePathTest, ServerEndpoints) {
  EXPECT_EQ(describe("/version"), "Version rest= g= v= ns= r= n= sub=");
  EXPECT_EQ(describe("/version/"), "Version rest= g= v= ns= r= n= sub=");
  EXPECT_EQ(describe("/healthz"), "Healthz rest= g= v= ns= r= n= sub=");
  EXPECT_EQ(describe("/metrics"), "Metrics rest= g= v= ns= r= n= sub=");
  EXPECT_EQ(describe("/healthz/ping"), "Healthz rest=ping g= v= ns= r= n= sub=");
  EXPECT_EQ(describe("/livez"), "Livez rest= g= v= ns= r= n= sub=");
  EXPECT_EQ(describe("/readyz/poststarthook/x"), "Readyz rest=poststarthook/x g= v= ns= r= n= sub=");
  EXPECT_EQ(describe("/openapi/v2"), "OpenApiV2 rest= g= v= ns= r= n= sub=");
  EXPECT_EQ(describe("/openapi/v3"), "OpenApiV3 rest= g= v= ns= r= n= sub=");
  EXPECT_EQ(describe("/openapi/v3/apis/example.com/v1"),
            "OpenApiV3 rest=apis/example.com/v1 g= v= ns= r= n= sub=");
  EXPECT_EQ(describe("/openapi/v3/api/v1"), "OpenApiV3 rest=api/v1 g= v= ns= r= n= sub=");
}

TEST(ResourcePathTest, SegmentsArePercentDecodedAfterSplitting) {
  EXPECT_EQ(describe("/api/v1/namespaces/n%2Ds/configmaps/a%3Ab"),
            "Resource rest= g= v=v1 ns=n-s r=configmaps n=a:b sub=");
  EXPECT_EQ(describe("/api/v1/namespaces/ns/configmaps/a%2Fb"),
            "Resource rest= g= v=v1 ns=ns r=configmaps n=a/b sub=");
  // '+' is a plain character in paths.
  EXPECT_EQ(parse_resource_path("/api/v1/namespaces/ns/configmaps/a+b").name, "a+b");
}

TEST(ResourcePathTest, Helpers) {
  ResourcePath core = parse_resource_path("/api/v1/namespaces/ns/pods");
  EXPECT_EQ(core.group_version_path(), "/api/v1");
  EXPECT_EQ(core.api_version(), "v1");
  EXPECT_TRUE(core.is_collection());
  ResourcePath custom = parse_resource_path("/apis/example.com/v1/gadgets/g1");
  EXPECT_EQ(custom.group_version_path(), "/apis/example.com/v1");
  EXPECT_EQ(custom.api_version(), "example.com/v1");
  EXPECT_FALSE(custom.is_collection());
  EXPECT_FALSE(parse_resource_path("/api/v1").is_collection());
}

std::string path_error(std::string_view path) {
  try {
    parse_resource_path(path);
  } catch (const PathError& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(ResourcePathTest, MalformedPaths) {
  EXPECT_EQ(path_error(""), R"(no such API path "": a path starts with '/')");
  EXPECT_EQ(path_error("api/v1"), R"(no such API path "api/v1": a path starts with '/')");
  EXPECT_EQ(path_error("/"), R"(no such API path "/": the root is not an API)");
  EXPECT_EQ(path_error("/apis/example.com/v1/namespaces/ns/widgets/w/status/extra"),
            R"(no such API path "/apis/example.com/v1/namespaces/ns/widgets/w/status/extra": )"
            R"(expected at most <resource>/<name>/<subresource>)");
  EXPECT_EQ(
      path_error("/api/v1/namespaces/team/status/x"),
      R"(no such API path "/api/v1/namespaces/team/status/x": expected at most <resource>/<name>/<subresource>)");
  EXPECT_EQ(path_error("/api/v1//pods"), R"(no such API path "/api/v1//pods": empty path segment)");
  EXPECT_EQ(path_error("/api/v1/namespaces/ns/pods/%zz"),
            R"(no such API path "/api/v1/namespaces/ns/pods/%zz": malformed %-escape)");
  EXPECT_EQ(path_error("/api/v1/namespaces/ns/pods/%2"),
            R"(no such API path "/api/v1/namespaces/ns/pods/%2": malformed %-escape)");
  EXPECT_EQ(path_error("/api/v1/namespaces/../pods"),
            R"(no such API path "/api/v1/namespaces/../pods": invalid path segment)");
  EXPECT_EQ(path_error("/api/v1/watch"), R"(no such API path "/api/v1/watch": watch of what?)");
  EXPECT_EQ(path_error("/swagger-2.0.0.pb-v1"),
            R"(no such API path "/swagger-2.0.0.pb-v1": not an API path)");
  EXPECT_EQ(path_error("/openapi/v1"), R"(no such API path "/openapi/v1": not an API path)");
  EXPECT_EQ(path_error("/version/x"), R"(no such API path "/version/x": not an API path)");
  EXPECT_EQ(path_error("/metrics/x"), R"(no such API path "/metrics/x": not an API path)");
}

TEST(QueryTest, ListAndWatchParameters) {
  QueryParameters q = parse_query(
      "labelSelector=tier+in+%28back%2Cfront%29%2Cx%21%3Dy&fieldSelector=metadata.name%3Dwa&limit=500"
      "&continue=abc%3D%3D&resourceVersion=115&resourceVersionMatch=NotOlderThan&watch=true"
      "&allowWatchBookmarks=true&timeoutSeconds=321&sendInitialEvents=false&timeout=32s&includeObject="
      "Object");
  EXPECT_EQ(q.label_selector, "tier in (back,front),x!=y");
  EXPECT_EQ(q.field_selector, "metadata.name=wa");
  EXPECT_EQ(q.limit, 500);
  EXPECT_EQ(q.continue_token, "abc==");
  EXPECT_EQ(q.resource_version, "115");
  EXPECT_EQ(q.resource_version_match, "NotOlderThan");
  EXPECT_TRUE(q.watch);
  EXPECT_TRUE(q.allow_watch_bookmarks);
  EXPECT_EQ(q.timeout_seconds, 321);
  EXPECT_EQ(q.send_initial_events, false);
  EXPECT_EQ(q.timeout, "32s");
  EXPECT_EQ(q.include_object, "Object");
  EXPECT_FALSE(q.pretty);
}

TEST(QueryTest, WriteParameters) {
  QueryParameters q = parse_query(
      "fieldManager=kubectl-client-side-apply&fieldValidation=Strict&force=false&dryRun=All&dryRun=Other"
      "&propagationPolicy=Foreground&gracePeriodSeconds=0&pretty=1");
  EXPECT_EQ(q.field_manager, "kubectl-client-side-apply");
  EXPECT_EQ(q.field_validation, "Strict");
  EXPECT_EQ(q.force, false);
  EXPECT_THAT(q.dry_run, ::testing::ElementsAre("All", "Other"));
  EXPECT_EQ(q.propagation_policy, "Foreground");
  EXPECT_EQ(q.grace_period_seconds, 0);
  EXPECT_TRUE(q.pretty);
}

TEST(QueryTest, Defaults) {
  QueryParameters q = parse_query("");
  EXPECT_FALSE(q.watch);
  EXPECT_EQ(q.limit, std::nullopt);
  EXPECT_EQ(q.timeout_seconds, std::nullopt);
  EXPECT_EQ(q.force, std::nullopt);
  EXPECT_EQ(q.send_initial_events, std::nullopt);
  EXPECT_TRUE(q.dry_run.empty());
  EXPECT_EQ(q.resource_version, "");
  // Unknown parameters and empty pairs are ignored.
  EXPECT_FALSE(parse_query("&&unknown=1&").watch);
}

TEST(QueryTest, BooleansAreLenientLikeKubeApiserver) {
  for (const char* yes :
       {"watch=true", "watch=True", "watch=TRUE", "watch=1", "watch=t", "watch=", "watch", "watch=yes"}) {
    EXPECT_TRUE(parse_query(yes).watch) << yes;
  }
  for (const char* no : {"watch=false", "watch=False", "watch=FALSE", "watch=0"}) {
    EXPECT_FALSE(parse_query(no).watch) << no;
  }
  // The first value wins.
  EXPECT_TRUE(parse_query("watch=1&watch=0").watch);
  EXPECT_EQ(parse_query("resourceVersion=5&resourceVersion=9").resource_version, "5");
}

TEST(QueryTest, Numbers) {
  EXPECT_EQ(parse_query("limit=%2B7").limit, 7);
  EXPECT_EQ(parse_query("limit=-1").limit, -1);
  EXPECT_EQ(parse_query("limit=").limit, std::nullopt);
  auto error = [](std::string_view query) -> std::string {
    try {
      parse_query(query);
    } catch (const QueryError& e) {
      return e.what();
    }
    return "(no error)";
  };
  EXPECT_EQ(error("limit=abc"), R"(invalid value "abc" for query parameter limit: not an integer)");
  EXPECT_EQ(error("timeoutSeconds=1.5"),
            R"(invalid value "1.5" for query parameter timeoutSeconds: not an integer)");
  EXPECT_EQ(error("limit=99999999999999999999"),
            R"(invalid value "99999999999999999999" for query parameter limit: not an integer)");
  EXPECT_EQ(error("limit=%2B"), R"(invalid value "+" for query parameter limit: not an integer)");
  // '+' in a query is a space.
  EXPECT_EQ(error("limit=+7"), R"(invalid value " 7" for query parameter limit: not an integer)");
  EXPECT_EQ(error("labelSelector=a%zz"), R"(malformed %-escape in query parameter "labelSelector=a%zz")");
}

TEST(QueryTest, PercentDecode) {
  EXPECT_EQ(percent_decode("a%20b+c", true), "a b c");
  EXPECT_EQ(percent_decode("a%20b+c", false), "a b+c");
  EXPECT_EQ(percent_decode("%e2%9c%93", false), "\xe2\x9c\x93");
  EXPECT_EQ(percent_decode("%", false), std::nullopt);
  EXPECT_EQ(percent_decode("%4", false), std::nullopt);
  EXPECT_EQ(percent_decode("%g0", false), std::nullopt);
}

TEST(RequestTargetTest, PathAndQuery) {
  RequestTarget t = parse_request_target(
      "/apis/example.com/v1/namespaces/default/widgets?fieldSelector=metadata.name%3Dwa"
      "&resourceVersion=0&watch=true");
  EXPECT_EQ(t.path.kind, Kind::Resource);
  EXPECT_EQ(t.path.namespace_name, "default");
  EXPECT_EQ(t.path.resource, "widgets");
  EXPECT_TRUE(t.query.watch);
  EXPECT_EQ(t.query.resource_version, "0");
  EXPECT_EQ(t.query.field_selector, "metadata.name=wa");

  RequestTarget plain = parse_request_target("/version");
  EXPECT_EQ(plain.path.kind, Kind::Version);
  EXPECT_FALSE(plain.query.watch);

  EXPECT_EQ(parse_request_target("/api?timeout=32s").path.kind, Kind::LegacyVersions);
  EXPECT_THROW(parse_request_target("/nope?watch=1"), PathError);
  EXPECT_THROW(parse_request_target("/api/v1/pods?limit=x"), QueryError);
}

}  // namespace
}  // namespace riasc::kubeapi
