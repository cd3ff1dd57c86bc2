// SPDX-License-Identifier: Apache-2.0
// The DLQ spool journal: replay, change records, compaction, torn tails, lock, permissions.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "dtbus/core/error.hpp"
#include "dtbus/dlq/spool.hpp"

namespace fs = std::filesystem;
using namespace dtbus::dlq;

namespace {

class SpoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("dtbus-spool-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    path_ = (dir_ / "state" / "dlq" / "test.jsonl").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  static Entry letter(const std::string& topic, const std::string& body, bool retained = false) {
    dtbus::ReceivedMessage m;
    m.topic = topic;
    m.payload = body;
    m.qos = 1;
    m.retain = retained;
    return entry_from_message(m);
  }
  static std::string body(const std::string& original, const std::string& reason,
                          const std::string& payload = R"({"n":1})") {
    return R"({"original_topic":")" + original + R"(","failure_reason":")" + reason +
           R"(","failure_timestamp":"2024-05-01T12:00:00Z","payload":)" + payload + "}";
  }
  std::string read() const {
    std::ifstream in(path_, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }
  size_t lines() const {
    auto text = read();
    return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
  }
  void write(const std::string& text) const {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out << text;
  }

  fs::path dir_;
  std::string path_;
};

TEST_F(SpoolTest, ReplayRebuildsEntriesAndStates) {
  std::string a_id, b_id;
  {
    Spool spool(path_, Spool::Mode::read_write);
    auto a = letter("tracker/dlq/a", body("a", "boom"));
    auto b = letter("tracker/dlq/b", body("b", "bad"));
    a_id = a.id;
    b_id = b.id;
    EXPECT_TRUE(spool.append(std::move(a)));
    EXPECT_TRUE(spool.append(std::move(b)));
    spool.change({{a_id, State::recovered, "a"}});
    spool.sync();
  }
  EXPECT_EQ(lines(), 3u);
  Spool again(path_, Spool::Mode::read_only);
  ASSERT_EQ(again.entries().size(), 2u);
  EXPECT_EQ(again.entries()[0].id, a_id);
  EXPECT_LT(a_id, b_id) << "ids sort in arrival order";
  EXPECT_EQ(again.find(a_id)->state, State::recovered);
  EXPECT_EQ(again.find(a_id)->recovered_to, "a");
  EXPECT_FALSE(again.find(a_id)->state_at.empty());
  EXPECT_EQ(again.find(b_id)->state, State::pending);
  EXPECT_EQ(again.find(b_id)->letter.original_topic, "b");
  EXPECT_EQ(again.find(b_id)->letter.failure_reason, "bad");
  EXPECT_TRUE(again.warnings().empty());
}

TEST_F(SpoolTest, FileIsPrivateAndDirectoryCreated0700) {
  { Spool spool(path_, Spool::Mode::read_write); }
  struct stat st {};
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat((dir_ / "state" / "dlq").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  chmod(path_.c_str(), 0644);
  { Spool spool(path_, Spool::Mode::read_write); }
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "enforced on an existing file too";
}

TEST_F(SpoolTest, MalformedBodiesAreKeptAndExplained) {
  Spool spool(path_, Spool::Mode::read_write);
  spool.append(letter("tracker/dlq/x", "not json at all"));
  spool.append(letter("tracker/dlq/x", "[1,2]"));
  spool.append(letter("tracker/dlq/x", R"({"payload":1})"));
  spool.append(letter("tracker/dlq/x", R"({"original_topic":"a/+/b","payload":1})"));
  spool.append(letter("tracker/dlq/x", R"({"original_topic":"a"})"));
  spool.append(letter("tracker/dlq/x", std::string("\xff\xfe\x00", 3)));
  ASSERT_EQ(spool.entries().size(), 6u);
  EXPECT_EQ(spool.entries()[0].letter.problem, "malformed DLQ body: not JSON");
  EXPECT_EQ(spool.entries()[1].letter.problem, "malformed DLQ body: not a JSON object");
  EXPECT_EQ(spool.entries()[2].letter.problem, "malformed DLQ body: no original_topic");
  EXPECT_NE(spool.entries()[3].letter.problem.find("original_topic 'a/+/b'"), std::string::npos);
  EXPECT_EQ(spool.entries()[4].letter.problem, "malformed DLQ body: no payload");
  EXPECT_EQ(spool.entries()[5].body_encoding, dtbus::record::PayloadEncoding::base64);

  Spool again(path_, Spool::Mode::read_only);
  ASSERT_EQ(again.entries().size(), 6u);
  EXPECT_EQ(again.entries()[0].body, "not json at all");
  EXPECT_EQ(again.entries()[0].body_encoding, dtbus::record::PayloadEncoding::utf8);
  EXPECT_EQ(again.entries()[5].body_encoding, dtbus::record::PayloadEncoding::base64);
  for (const auto& e : again.entries()) EXPECT_EQ(e.state, State::pending);
}

TEST_F(SpoolTest, TornLastLineIsCutOffWithAWarningAndEarlierEntriesSurvive) {
  {
    Spool spool(path_, Spool::Mode::read_write);
    spool.append(letter("tracker/dlq/a", body("a", "one")));
    spool.append(letter("tracker/dlq/b", body("b", "two")));
  }
  auto good = read();
  write(good + R"({"id":"01ABC","dlq_topic":"tracker/dl)");  // crash mid-append
  {
    Spool read_only(path_, Spool::Mode::read_only);
    EXPECT_EQ(read_only.entries().size(), 2u);
    ASSERT_EQ(read_only.warnings().size(), 1u);
    EXPECT_NE(read_only.warnings()[0].find(":3: ignoring a torn last line"), std::string::npos);
  }
  EXPECT_NE(read(), good) << "read-only opening changes nothing";
  {
    Spool spool(path_, Spool::Mode::read_write);
    EXPECT_EQ(spool.entries().size(), 2u);
    EXPECT_EQ(read(), good) << "the torn tail is cut off before anything is appended";
    spool.append(letter("tracker/dlq/c", body("c", "three")));
  }
  Spool again(path_, Spool::Mode::read_only);
  EXPECT_EQ(again.entries().size(), 3u);
  EXPECT_TRUE(again.warnings().empty());
}

TEST_F(SpoolTest, CompleteLastRecordWithoutNewlineIsKept) {
  {
    Spool spool(path_, Spool::Mode::read_write);
    spool.append(letter("tracker/dlq/a", body("a", "one")));
  }
  auto text = read();
  text.pop_back();  // the write stopped just before '\n'
  write(text);
  {
    Spool spool(path_, Spool::Mode::read_write);
    EXPECT_EQ(spool.entries().size(), 1u);
    spool.append(letter("tracker/dlq/b", body("b", "two")));
  }
  Spool again(path_, Spool::Mode::read_only);
  EXPECT_EQ(again.entries().size(), 2u);
}

TEST_F(SpoolTest, DamagedRecordInTheMiddleIsAnErrorNotASilentSkip) {
  {
    Spool spool(path_, Spool::Mode::read_write);
    spool.append(letter("tracker/dlq/a", body("a", "one")));
  }
  write("garbage\n" + read());
  try {
    Spool spool(path_, Spool::Mode::read_write);
    FAIL() << "expected an error";
  } catch (const dtbus::Error& e) {
    EXPECT_EQ(e.code(), dtbus::ExitCode::runtime);
    EXPECT_NE(std::string(e.what()).find("test.jsonl:1: damaged spool record"), std::string::npos)
        << e.what();
  }
}

TEST_F(SpoolTest, CompactionFoldsChangesAndKeepsEveryEntry) {
  std::vector<std::string> ids;
  {
    Spool spool(path_, Spool::Mode::read_write);
    for (int i = 0; i < 10; ++i) {
      auto e = letter("tracker/dlq/t", body("t/" + std::to_string(i), "r"));
      ids.push_back(e.id);
      spool.append(std::move(e));
    }
    for (int round = 0; round < 3; ++round) {
      for (const auto& id : ids) spool.change({{id, State::pending, ""}});
    }
    spool.change({{ids[0], State::recovered, "t/0"}, {ids[1], State::purged, ""}});
    EXPECT_EQ(spool.record_count(), 42u);
    spool.compact(false, 1000);
    EXPECT_EQ(lines(), 42u) << "below min_records nothing happens";
    spool.compact(false, 10);
    EXPECT_EQ(lines(), 10u);
    EXPECT_EQ(spool.record_count(), 10u);
    spool.compact(false, 10);  // not more than 2x entries now: no rewrite needed
    spool.change({{ids[2], State::recovered, "retry"}});  // appends to the new file
  }
  EXPECT_FALSE(fs::exists(path_ + ".compact"));
  Spool again(path_, Spool::Mode::read_only);
  ASSERT_EQ(again.entries().size(), 10u);
  EXPECT_EQ(again.find(ids[0])->state, State::recovered);
  EXPECT_EQ(again.find(ids[0])->recovered_to, "t/0");
  EXPECT_EQ(again.find(ids[1])->state, State::purged);
  EXPECT_EQ(again.find(ids[2])->recovered_to, "retry");
  EXPECT_EQ(again.find(ids[3])->state, State::pending);
  EXPECT_EQ(again.find(ids[3])->letter.original_topic, "t/3");
  struct stat st {};
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(SpoolTest, RetainedCopiesOfTheSameMessageAreSpooledOnce) {
  Spool spool(path_, Spool::Mode::read_write);
  EXPECT_TRUE(spool.append(letter("tracker/dlq/a", body("a", "x"), true)));
  EXPECT_FALSE(spool.append(letter("tracker/dlq/a", body("a", "x"), true)));
  EXPECT_TRUE(spool.append(letter("tracker/dlq/b", body("a", "x"), true))) << "other DLQ topic";
  // Live (non-retained) messages are never merged: identical content may be two events.
  EXPECT_TRUE(spool.append(letter("tracker/dlq/a", body("a", "x"))));
  EXPECT_TRUE(spool.append(letter("tracker/dlq/a", body("a", "x"))));
  EXPECT_EQ(spool.entries().size(), 4u);
  EXPECT_TRUE(spool.entries()[0].retained);
  spool.mark_retained_cleared(spool.entries()[0].id);
  spool.sync();
  Spool again(path_, Spool::Mode::read_only);
  EXPECT_TRUE(again.entries()[0].retained_cleared);
  EXPECT_FALSE(again.entries()[1].retained_cleared);
}

TEST_F(SpoolTest, BodyKeyOrderAndUserPropertiesSurviveTheJournal) {
  dtbus::ReceivedMessage m;
  m.topic = "tracker/dlq/a";
  m.payload =
      R"({"payload":{"z":1,"a":[true,null],"m":"é"},"original_topic":"a","failure_reason":"r"})";
  m.properties.user = {{"dtbus-replay-count", "2"}};
  {
    Spool spool(path_, Spool::Mode::read_write);
    spool.append(entry_from_message(m));
  }
  Spool again(path_, Spool::Mode::read_only);
  const Entry& e = again.entries().at(0);
  EXPECT_EQ(letter_payload(e).dump(), R"({"z":1,"a":[true,null],"m":"é"})");
  ASSERT_EQ(e.user_properties.size(), 1u);
  EXPECT_EQ(e.user_properties[0].value, "2");
}

TEST_F(SpoolTest, UnwritableLocationFailsEarlyNamingTheFile) {
  // A regular file where the directory should be: fails for root too (unlike permissions).
  fs::create_directories(dir_);
  std::ofstream(dir_ / "state") << "x";
  try {
    Spool spool(path_, Spool::Mode::read_write);
    FAIL() << "expected an error";
  } catch (const dtbus::Error& e) {
    EXPECT_EQ(e.code(), dtbus::ExitCode::runtime);
    EXPECT_NE(std::string(e.what()).find((dir_ / "state").string()), std::string::npos) << e.what();
  }
}

TEST_F(SpoolTest, SecondLockNamesTheHoldersPid) {
  SpoolLock first(path_);
  try {
    SpoolLock second(path_);
    FAIL() << "expected the lock to be refused";
  } catch (const dtbus::Error& e) {
    EXPECT_EQ(e.code(), dtbus::ExitCode::runtime);
    EXPECT_NE(std::string(e.what()).find("in use by pid " + std::to_string(getpid())),
              std::string::npos)
        << e.what();
  }
}

TEST_F(SpoolTest, LockIsFreeAgainAfterRelease) {
  { SpoolLock first(path_); }
  EXPECT_NO_THROW(SpoolLock again(path_));
}

TEST_F(SpoolTest, TheJournalItselfIsLockedSoARemovedLockFileLetsNoSecondWriterIn) {
  SpoolLock lock(path_);
  Spool first(path_, Spool::Mode::read_write);
  fs::remove(path_ + ".lock");   // what a careless cleanup does while a recover runs
  SpoolLock second_lock(path_);  // a new lock file: this one alone would let a second process in
  try {
    Spool second(path_, Spool::Mode::read_write);
    FAIL() << "expected the journal lock to be refused";
  } catch (const dtbus::Error& e) {
    EXPECT_EQ(e.code(), dtbus::ExitCode::runtime);
    EXPECT_NE(std::string(e.what()).find("is in use by another process (its lock file"),
              std::string::npos)
        << e.what();
  }
  EXPECT_NO_THROW(Spool reader(path_, Spool::Mode::read_only));  // reading needs no lock
}

TEST_F(SpoolTest, CompactionKeepsTheJournalLockedAndFreesItOnClose) {
  {
    Spool spool(path_, Spool::Mode::read_write);
    for (int i = 0; i < 4; ++i) spool.append(letter("tracker/dlq/t", body("t", "r")));
    for (int i = 0; i < 10; ++i) spool.change({{spool.entries()[0].id, State::pending, ""}});
    spool.compact(true);
    EXPECT_EQ(lines(), 4u);
    EXPECT_THROW(Spool other(path_, Spool::Mode::read_write), dtbus::Error)
        << "the compacted file is locked from the moment it replaces the old one";
  }
  EXPECT_NO_THROW(Spool again(path_, Spool::Mode::read_write));
}

TEST_F(SpoolTest, NoRewriteFromAStaleCopyWhenTheFileWasReplacedOrGrew) {
  Spool spool(path_, Spool::Mode::read_write);
  for (int i = 0; i < 3; ++i) spool.append(letter("tracker/dlq/t", body("t", "r")));
  // Another writer appended an entry this process never read.
  std::string foreign =
      R"({"id":"0FOREIGN","dlq_topic":"tracker/dlq/t","received_at":"2024-05-01T00:00:00.000Z",)"
      R"("state":"pending","body":{"original_topic":"t","payload":1}})"
      "\n";
  { std::ofstream(path_, std::ios::app) << foreign; }
  spool.compact(true);
  EXPECT_NE(read().find("0FOREIGN"), std::string::npos) << "compaction must not erase it";
  // The file at the path replaced by another one: not rewritten either.
  std::string other = path_ + ".other";
  { std::ofstream(other) << foreign; }
  fs::rename(other, path_);
  spool.compact(true);
  EXPECT_EQ(read(), foreign);
}

TEST_F(SpoolTest, TheReplayCountOfARecoveryIsJournaledAndSurvivesCompaction) {
  std::string id;
  {
    Spool spool(path_, Spool::Mode::read_write);
    auto e = letter("tracker/dlq/t", body("t", "r"));
    id = e.id;
    spool.append(std::move(e));
    spool.change({{id, State::recovered, "t", 2}});
    EXPECT_EQ(spool.find(id)->replay_count, 2);
  }
  EXPECT_EQ(Spool(path_, Spool::Mode::read_only).find(id)->replay_count, 2);
  {
    Spool spool(path_, Spool::Mode::read_write);
    spool.compact(true);
  }
  EXPECT_EQ(lines(), 1u);
  EXPECT_EQ(Spool(path_, Spool::Mode::read_only).find(id)->replay_count, 2);
}

}  // namespace
