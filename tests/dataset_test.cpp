// Dataset files (loader/dataset.h): CSV through libcsv (quotes, commas, quotes and newlines in fields, CRLF,
// a byte-order mark, columns in any order, extra columns) and JSONL; paths resolved against the file's
// folder; videos shared by several captions; every problem a BadFile naming file, line and field.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "engine/error.h"
#include "loader/dataset.h"

namespace frost::loader {
namespace {

namespace fs = std::filesystem;

std::string write(const std::string& name, const std::string& text) {
  const fs::path dir = fs::path(::testing::TempDir()) / "frost_dataset_test";
  fs::create_directories(dir);
  const std::string path = (dir / name).string();
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

void expect_refused(const std::string& name, const std::string& text, const std::string& needle) {
  const std::string path = write(name, text);
  try {
    read_dataset(path);
    ADD_FAILURE() << name << ": accepted; wanted " << needle;
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::BadFile) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << name << ": " << e.what();
  }
}

TEST(Dataset, CsvWithQuotesNewlinesAndSharedVideos) {
  const std::string text =
      "\xEF\xBB\xBF"
      "caption,source,video,id\r\n"
      "\"a dog, running\",web,clips/a.mp4,x1\r\n"
      "\r\n"
      "\"she said \"\"hi\"\"\nand left\",web,/abs/b.mp4,x2\r\n"
      "a second caption,web,./clips/a.mp4,x3\r\n";
  const std::string path = write("d.csv", text);
  const Dataset d = read_dataset(path);
  const std::string folder = fs::path(path).parent_path().string();
  ASSERT_EQ(d.rows.size(), 3u);
  EXPECT_EQ(d.rows[0].caption, "a dog, running");
  EXPECT_EQ(d.rows[0].video, folder + "/clips/a.mp4");
  EXPECT_EQ(d.rows[0].id, "x1");
  EXPECT_EQ(d.rows[0].line, 2);
  EXPECT_EQ(d.rows[1].caption, "she said \"hi\"\nand left");
  EXPECT_EQ(d.rows[1].video, "/abs/b.mp4");
  EXPECT_EQ(d.rows[1].line, 4);                 // the blank line 3 is skipped
  EXPECT_EQ(d.rows[2].line, 6);                 // after the quoted newline
  EXPECT_EQ(d.rows[2].video, d.rows[0].video);  // "./clips/a.mp4" is the same video
  ASSERT_EQ(d.videos.size(), 2u);
  EXPECT_EQ(d.video_of_row, (std::vector<int64_t>{0, 1, 0}));
}

TEST(Dataset, JsonlWithAndWithoutIds) {
  const std::string path = write("d.jsonl",
                                 "{\"video\": \"v/1.mp4\", \"caption\": \"one\", \"extra\": 3}\n"
                                 "\n"
                                 "{\"video\": \"v/1.mp4\", \"caption\": \"two\", \"id\": \"b\"}\r\n"
                                 "{\"caption\": \"three\", \"video\": \"frames/\"}\n");
  const Dataset d = read_dataset(path);
  ASSERT_EQ(d.rows.size(), 3u);
  EXPECT_EQ(d.rows[0].id, path + ":1");  // no id: file and line
  EXPECT_EQ(d.rows[1].id, "b");
  EXPECT_EQ(d.rows[1].line, 3);
  EXPECT_EQ(d.rows[2].caption, "three");
  EXPECT_EQ(d.videos.size(), 2u);
  EXPECT_EQ(d.video_of_row, (std::vector<int64_t>{0, 0, 1}));
}

TEST(Dataset, ProblemsAreRefusedByLineAndField) {
  expect_refused("d.txt", "video,caption\na,b\n", "a dataset is a .csv");
  expect_refused("nocap.csv", "video,text\na,b\n",
                 ":1: the header must name the columns 'video' and 'caption'");
  expect_refused("twice.csv", "video,caption,video\na,b,c\n", ":1: column 'video' appears twice");
  expect_refused("fields.csv", "video,caption\na,b\nc\n", "fields.csv:3: 1 fields, the header has 2");
  expect_refused("empty_caption.csv", "video,caption\na,\"\"\n", "empty_caption.csv:2: the caption is empty");
  expect_refused("empty_video.csv", "video,caption\n,b\n", ":2: the video is empty");
  expect_refused("utf8.csv", "video,caption\na,b\xFF\n", ":2: not valid UTF-8");
  expect_refused("dup.csv", "video,caption,id\na,b,1\nc,d,1\n", ":3: id '1' appears twice");
  expect_refused("quote.csv", "video,caption\na,\"open\n", "not valid CSV at its end");
  expect_refused("stray.csv", "video,caption\na,b\"c\"\n", "stray.csv:2: not valid CSV");
  expect_refused("header_only.csv", "video,caption\n", "no rows");
  expect_refused("nothing.csv", "", "empty");
  expect_refused("bad.jsonl", "{\"video\": \"a\", \"caption\": \"b\"}\n{oops}\n",
                 "bad.jsonl:2: not a JSON object");
  expect_refused("array.jsonl", "[1, 2]\n", ":1: not a JSON object");
  expect_refused("nokey.jsonl", "{\"video\": \"a\"}\n", ":1: no \"caption\"");
  expect_refused("type.jsonl", "{\"video\": \"a\", \"caption\": 3}\n", ":1: \"caption\" must be a string");
}

}  // namespace
}  // namespace frost::loader
