// The operator of the SDK tutorial (docs/operator-sdk.md): answers each Greeting
// (greeting-crd.yaml) with a message in its status.
#include <map>

#include "riasc/operator/runner.hpp"

using namespace riasc;
using namespace std::chrono_literals;

const client::GroupVersionResource kGreetings{"example.riasc.eu", "v1", "greetings"};

std::string greet(const Json& spec) {
  static const std::map<std::string, std::string> hello{
      {"en", "Hello"}, {"de", "Hallo"}, {"fr", "Bonjour"}, {"nl", "Hoi"}};
  const std::string language = spec.value("language", "en");
  if (!hello.contains(language)) throw op::PermanentError("no one here speaks " + language);
  return hello.at(language) + ", " + spec.value("name", "world") + "!";
}

int main(int argc, char** argv) {
  return op::run(argc, argv, {.name = "greeter"}, [](op::Operator& greeter) {
    greeter.on_create(kGreetings, [](op::Context& ctx) {
      if (ctx.spec().value("shy", false) && ctx.retry() == 0) throw op::TemporaryError("too shy, once", 2s);
      ctx.patch()["status"]["message"] = greet(ctx.spec());
      return Json{{"greeted", ctx.spec()["name"]}};  // the result goes to status.create
    });
    greeter.on_update(kGreetings,
                      [](op::Context& ctx) { ctx.patch()["status"]["message"] = greet(ctx.spec()); });
    greeter.on_field(kGreetings, "spec.language",
                     [](op::Context& ctx) {
                       return Json{{"from", ctx.old_value()}, {"to", ctx.new_value()}};  // status.language
                     },
                     {.id = "language"});
    greeter.timer(kGreetings, [](op::Context& ctx) { return ctx.status().value("ticks", 0) + 1; },
                  {.id = "ticks", .interval = 10s});  // status.ticks counts the timer's runs
    greeter.on_delete(kGreetings, [](op::Context& ctx) { ctx.logger().info("goodbye, {}", ctx.name()); });
  });
}
