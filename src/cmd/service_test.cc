#include "cmd/service.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace vigil::cmd {
namespace {

class Recorder : public Service {
 public:
  Recorder(std::string name, std::vector<std::string>* log, bool fail = false)
      : name_(std::move(name)), log_(log), fail_(fail) {}
  std::string_view name() const override { return name_; }
  absl::Status Start() override {
    log_->push_back("start " + name_);
    return fail_ ? absl::UnavailableError("port taken") : absl::OkStatus();
  }
  void Stop() override { log_->push_back("stop " + name_); }

 private:
  std::string name_;
  std::vector<std::string>* log_;
  bool fail_;
};

TEST(ServiceGroup, StopsInReverseOrderOfStart) {
  std::vector<std::string> log;
  ServiceGroup g;
  g.Add(std::make_unique<Recorder>("a", &log));
  g.Add(std::make_unique<Recorder>("b", &log));
  ASSERT_TRUE(g.StartAll().ok());
  g.StopAll();
  g.StopAll();  // idempotent
  EXPECT_EQ(log, (std::vector<std::string>{"start a", "start b", "stop b", "stop a"}));
}

TEST(ServiceGroup, AFailedStartStopsOnlyWhatStarted) {
  std::vector<std::string> log;
  ServiceGroup g;
  g.Add(std::make_unique<Recorder>("a", &log));
  g.Add(std::make_unique<Recorder>("b", &log, /*fail=*/true));
  g.Add(std::make_unique<Recorder>("c", &log));
  absl::Status s = g.StartAll();
  EXPECT_EQ(std::string(s.message()), "start b: port taken");
  EXPECT_EQ(log, (std::vector<std::string>{"start a", "start b", "stop a"}));
}

}  // namespace
}  // namespace vigil::cmd
