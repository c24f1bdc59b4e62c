// The `frost` command against bad input, driven from a table: each row runs the built binary (with a time
// limit, so a hang fails the row instead of the suite) and asserts its exit code, a fragment of its last
// line of output, and that the files it names as inputs are unchanged afterwards (type, mode and bytes).
// The rows are one (or more) per kind of fault of issue 12: crashes, damaged files, hangs, silent wrong
// answers, options that do not apply, and the exit-code policy (cli/common.h). Every error row also
// asserts the policy's form: the last line of stderr is `frost <command>: ...`, no line comes from a
// crash (terminate, a sanitizer, a signal) and no internal function name shows.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli_runner.h"
#include "loader/safetensors.h"

namespace frost {
namespace {

namespace fs = std::filesystem;

using test::Result;
using test::run_frost;
using test::slurp;
using test::snapshot;

using test::kFixtures;
using test::kParity;

// ---- the fixture folder ----------------------------------------------------------------------------------

const std::string kLong(300, 'a');  // longer than any file system's NAME_MAX (255)

class CliBadInput : public ::testing::Test {
 public:
  static std::string dir() { return dir_; }

 protected:
  static void SetUpTestSuite() {
    dir_ = (fs::temp_directory_path() / ("frost_cli_" + std::to_string(::getpid()))).string();
    fs::remove_all(dir_);
    fs::create_directories(dir_ + "/frames_dangling");
    fs::create_directories(dir_ + "/frames_ok");
    fs::copy_file(kParity + "/fixtures/tiny_dual_weights.safetensors", dir_ + "/w.safetensors");
    fs::copy_file(kParity + "/fixtures/tiny_vocab.txt", dir_ + "/v.txt");
    fs::copy_file(kFixtures + "/preprocess/frames_small_0.png", dir_ + "/img.png");
    std::ofstream(dir_ + "/gone.csv") << "video,caption\nnot_there.mp4,a caption\n";
    fs::create_directories(dir_ + "/run_done");
    std::ofstream(dir_ + "/run_done/metrics.jsonl") << "{\"step\":1}\n";
    fs::copy_file(kFixtures + "/preprocess/frames_small_0.png", dir_ + "/frames_ok/0001.png");
    fs::copy_file(kFixtures + "/preprocess/frames_landscape_0.png", dir_ + "/frames_dangling/0001.png");
    fs::create_symlink(dir_ + "/no-such-frame.png", dir_ + "/frames_dangling/0002.png");
    fs::copy_file(kFixtures + "/preprocess/frames_small_0.png", dir_ +
                                                                    "/bad\xff"
                                                                    "name.png");
    fs::create_hard_link(dir_ + "/w.safetensors", dir_ + "/w_hardlink.safetensors");
    fs::create_symlink("w.safetensors", dir_ + "/w_symlink.safetensors");
    fs::create_symlink("no-such-folder", dir_ + "/dangling_out");
    ASSERT_EQ(::mkfifo((dir_ + "/fifo").c_str(), 0644), 0);
    write("not_a_video.mp4", "this is text, not a video\n");
    write("captions.txt", "a dog runs on the beach\n\ntwo children playing\n");
    write("captions_bad_utf8.txt", "a dog\nbad \xff caption\ntwo cats\n");
    {
      const std::string vocab = slurp(dir_ + "/v.txt");
      std::istringstream lines(vocab);
      std::string v4, line;
      for (int i = 0; i < 4 && std::getline(lines, line); ++i) v4 += line + "\n";
      write("v4.txt", v4);
      write("v_bad_utf8.txt", vocab + "bad\xfftoken\n");
    }
    // Configs: absurd sizes, a non-integer, a duplicate key, no name (the file's name is used).
    write("c_ffn_huge.json", R"({"text": {"ffn_dim": 1099511627776}})");
    write("c_mlp_huge.json", R"({"video": {"mlp_dim": 1099511627776}})");
    write("c_depth_huge.json", R"({"video": {"depth": 1000000000}})");
    write("c_patches_huge.json", R"({"video": {"image_size": 4096, "patch_size": 1}})");
    write("c_float.json", R"({"video": {"dim": 64.5, "heads": 2}})");
    write("c_duplicate.json", R"({"video": {"dim": 64, "dim": 128}})");
    write("c_nan_eps.json", R"({"video": {"eps": 1e999}})");
    write("c_channels.json", R"({"video": {"channels": 1}})");
    write("c_unknown_field.json", R"({"video": {"depht": 2}})");
    // The reference's own configs/*.json layout, with a text model frost does not build.
    write(
        "c_reference_roberta.json",
        R"({"name": "x", "arch": {"type": "FrozenInTime", "args": {"video_params": {"model": "SpaceTimeTransformer",
              "num_frames": 4}, "text_params": {"model": "roberta-base"}, "projection": "minimal"}}})");
    write("c_wrong_type.json", R"({"text": {"layers": "six"}})");
    write("c_text_array.json", R"({"text": [1, 2]})");
    write("c_arch.json", R"({"text": {"arch": "gpt2"}})");
    write("c_array.json", R"([{"name": "base"}])");
    write("c_bert_no_types.json", R"({"text": {"arch": "bert", "type_vocab_size": 0}})");
    write("c_nul_key.json", R"({"projection_dim\u0000x": 3})");
    write("c_unnamed_tiny.json",
          R"({"projection_dim": 32, "text": {"vocab_size": 512, "dim": 64, "layers": 2, "heads": 2,
              "ffn_dim": 128, "max_positions": 64}, "video": {"image_size": 32, "patch_size": 8, "dim": 64,
              "depth": 2, "heads": 2, "mlp_dim": 128}})");
    // Weights with one NaN, and weights scaled by 1e30 (finite, but the forward overflows).
    {
      const auto f = loader::SafetensorsFile::open(dir_ + "/w.safetensors");
      std::vector<std::pair<std::string, HostTensor>> nan, big;
      for (const loader::TensorEntry& e : f.tensors()) {
        HostTensor t = f.read(e.name);
        HostTensor s = t;
        if (t.dtype() == DType::F32) {
          s = HostTensor(DType::F32, t.shape());
          for (int64_t i = 0; i < t.numel(); ++i) s.data<float>()[i] = t.data<float>()[i] * 1e30f;
          if (nan.empty()) {
            HostTensor n = t;
            n = HostTensor(DType::F32, t.shape());
            std::memcpy(n.raw(), t.raw(), t.bytes());
            n.data<float>()[0] = std::numeric_limits<float>::quiet_NaN();
            t = n;
          }
        }
        nan.emplace_back(e.name, t);
        big.emplace_back(e.name, s);
      }
      auto save = [](const std::string& path, const std::vector<std::pair<std::string, HostTensor>>& ts) {
        std::vector<std::pair<std::string, const HostTensor*>> list;
        for (const auto& [n, t] : ts) list.emplace_back(n, &t);
        loader::write_safetensors(path, list);
      };
      save(dir_ + "/w_nan.safetensors", nan);
      save(dir_ + "/w_big.safetensors", big);
      // Tensor names and metadata a file may carry that must not print as terminal control.
      HostTensor one(DType::F32, {1});
      loader::write_safetensors(dir_ + "/evil_names.safetensors", {{"evil\nname\x1b[2J", &one}},
                                {{"note", "line one\nfake line"}});
    }
    // Tiny videos: a 2x2 raw YUV 4:2:0 stream (it corrupted the heap once) and an 8x6 FFV1 one.
    const std::string ffmpeg = "ffmpeg -nostdin -y -loglevel error -f lavfi -i testsrc2=size=";
    if (std::system(
            (ffmpeg + "2x2:rate=5 -frames:v 5 -c:v rawvideo -pix_fmt yuv420p '" + dir_ + "/raw_2x2.mkv'")
                .c_str()) != 0 ||
        std::system((ffmpeg + "8x6:rate=5 -frames:v 5 -c:v ffv1 '" + dir_ + "/ffv1_8x6.mkv'").c_str()) != 0)
      setup_error_ = "the ffmpeg command failed (scripts/install_deps.sh installs it)";
    // Damaged media (issue 17): a JPEG with 3 stray bytes before a marker (Pillow decodes it), one cut in its
    // scan (Pillow refuses it), a TIFF (refused by name), and an H.264 MP4 with 5,000 bytes zeroed in the
    // middle (FFmpeg conceals the damage and loses one frame of 100).
    const std::string jpegs = std::string(FROST_TEST_FIXTURES) + "/jpeg_damage/";
    fs::copy_file(jpegs + "extraneous_before_dqt.jpg", dir_ + "/stray.jpg");
    fs::copy_file(jpegs + "clean_truncated_at50.jpg", dir_ + "/truncated.jpg");
    write("image.tif", std::string("II*\0\x08\0\0\0\x0c\0", 10) + std::string(200, '\0'));
    if (std::system((ffmpeg + "320x240:rate=25:duration=4 -c:v libx264 -g 50 -bf 2 -crf 18 '" + dir_ +
                     "/damaged.mp4'")
                        .c_str()) != 0)
      setup_error_ = "the ffmpeg command failed (scripts/install_deps.sh installs it)";
    {
      std::fstream video(dir_ + "/damaged.mp4", std::ios::in | std::ios::out | std::ios::binary);
      video.seekg(0, std::ios::end);
      const std::streamoff size = video.tellg();
      video.seekp(size / 2);
      video.write(std::string(5000, '\0').data(), 5000);
    }
    // Clips at the reference's 224 pixels, which the tiny model (32) does not take.
    const Result r =
        run_frost({"clip", "img.png", "--frames", "2", "--out", "clips224.safetensors"}, {}, dir_, "", 120);
    if (r.exit_code != 0) setup_error_ = "frost clip failed: " + r.err;
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  static void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ + "/" + name, std::ios::binary) << text;
  }

  static std::string dir_;
  static std::string setup_error_;
};
std::string CliBadInput::dir_;
std::string CliBadInput::setup_error_;

// ---- the table -------------------------------------------------------------------------------------------

struct Row {
  std::string name;               // the ctest name
  std::vector<std::string> args;  // run in the fixture folder; "@" stands for its path
  int exit_code;
  std::string message;                 // expected in the last line of stderr (errors) or in stdout (success)
  std::vector<std::string> unchanged;  // files (in the fixture folder) whose type, mode and bytes must stay
  std::map<std::string, std::string> env = {};
  std::string stdin_file = "";  // in the fixture folder
  std::string absent = "";      // must not appear in stdout + stderr
  std::string then = "";        // a second command's stdout must contain `then_message`
  std::string then_message = "";
  std::string warning = "";  // a "warning:" line of stderr must contain it
};

const std::vector<std::string> kTiny = {"--config", "tiny", "--weights", "w.safetensors"};
std::vector<std::string> tiny(std::vector<std::string> head, std::vector<std::string> tail) {
  head.insert(head.end(), kTiny.begin(), kTiny.end());
  head.insert(head.end(), tail.begin(), tail.end());
  return head;
}
std::vector<std::string> text_cmd(std::vector<std::string> tail) {
  std::vector<std::string> a = {"encode",    "text",          "--config", "tiny",
                                "--weights", "w.safetensors", "--vocab",  "v.txt"};
  a.insert(a.end(), tail.begin(), tail.end());
  return a;
}

std::vector<Row> rows() {
  const std::string long_out = kLong + ".safetensors";
  return {
      // -- the exit-code policy: usage 2, bad values 1, help 0 --
      {"unknown_command", {"no-such-command"}, 2, "frost: unknown command 'no-such-command'"},
      {"unknown_top_option", {"--no-such-option"}, 2, "frost: unknown option --no-such-option"},
      {"unknown_option", {"ops", "--no-such-option"}, 2, "frost ops: "},
      {"option_of_another_command",
       {"encode", "video", "--flip-swap", "left:right", "img.png", "--weights", "w.safetensors", "--config",
        "tiny", "--out", "o.safetensors"},
       2,
       "frost encode: "},
      {"missing_required", {"clip"}, 2, "frost clip: inputs is required"},
      {"help_lists_exit_codes", {"--help"}, 0, "3 internal error"},
      {"value_not_a_number", {"clip", "img.png", "--frames", "abc", "--out", "o.safetensors"}, 1, "--frames"},
      {"seed_negative_synthetic",
       {"synthetic", "--seed", "-1", "--out", "syn"},
       1,
       "--seed: must be an integer in 0.."},
      {"seed_negative_clip",
       {"clip", "img.png", "--train", "--seed", "-1", "--out", "o.safetensors"},
       1,
       "--seed"},
      {"threads_zero", {"ops", "--threads", "0"}, 1, "--threads"},
      {"threads_absurd", {"ops", "--threads", "100000"}, 1, "--threads"},
      {"omp_threads_absurd",
       {"ops"},
       1,
       "OMP_NUM_THREADS=100000 is not a thread count",
       {},
       {{"OMP_NUM_THREADS", "100000"}}},
      {"omp_threads_garbage", {"ops"}, 1, "OMP_NUM_THREADS=lots", {}, {{"OMP_NUM_THREADS", "lots"}}},
      {"threads_override_omp",
       tiny({"encode", "text", "a dog"}, {"--vocab", "v.txt", "--threads", "1", "--out", "t.safetensors"}),
       0,
       "t.safetensors",
       {},
       {{"OMP_NUM_THREADS", "100000"}}},
      {"demo_steps_zero", {"demo", "--steps", "0"}, 1, "--steps"},
      {"demo_backend_unknown", {"demo", "--backend", "tpu"}, 1, "--backend"},
      {"demo_out_is_a_file", {"demo", "--out", "captions.txt"}, 1, "give a folder", {"captions.txt"}},
      {"demo_out_dangling_link",
       {"demo", "--out", "dangling_out"},
       1,
       "is a link to nothing (a dangling symlink)"},
      {"demo_out_holds_other_files",
       {"demo", "--out", "."},
       1,
       "not a frost demo's — give a new or empty folder"},
      {"config_reference_unsupported_text_model",
       {"plan", "--config", "c_reference_roberta.json"},
       1,
       "c_reference_roberta.json: arch.args.text_params model 'roberta-base' is not supported"},
      {"info_not_safetensors", {"info", "captions.txt"}, 1, "captions.txt: "},
      {"clip_input_missing",
       {"clip", "/no/such/video.mp4", "--out", "o.safetensors"},
       1,
       "input /no/such/video.mp4 is missing"},
      {"plan_train_needs_dual", {"plan", "--config", "tiny", "--train"}, 1, "--train needs --part dual"},
      // -- score --
      {"score_without_captions", tiny({"score"}, {"--vocab", "v.txt", "--video", "img.png"}), 1,
       "nothing to score"},
      {"score_video_missing", tiny({"score"}, {"--vocab", "v.txt", "--video", "nope.mp4", "a dog"}), 1,
       "--video nope.mp4 is"},
      {"score_frames_on_an_image",
       tiny({"score"}, {"--vocab", "v.txt", "--video", "img.png", "--frames", "2", "a"}), 1,
       "--frames does not apply to an image"},
      {"score_video_is_a_fifo", tiny({"score"}, {"--vocab", "v.txt", "--video", "fifo", "a dog"}), 1,
       "--video fifo is"},
      // -- eval --
      {"eval_data_missing", tiny({"eval"}, {"--vocab", "v.txt", "--data", "none.csv"}), 1, "none.csv"},
      {"eval_data_not_a_dataset", tiny({"eval"}, {"--vocab", "v.txt", "--data", "img.png"}), 1,
       "a dataset is a .csv"},
      {"eval_no_video_readable", tiny({"eval"}, {"--vocab", "v.txt", "--data", "gone.csv"}), 1,
       "none of the 1 videos of gone.csv could be read"},
      {"eval_ties_unknown", tiny({"eval"}, {"--data", "gone.csv", "--ties", "random"}), 1, "--ties"},
      // -- train and synthetic --
      {"train_data_missing", tiny({"train"}, {"--vocab", "v.txt", "--data", "none.csv", "--out", "r1"}), 1,
       "none.csv"},
      {"train_steps_and_epochs",
       tiny({"train"},
            {"--vocab", "v.txt", "--data", "gone.csv", "--steps", "2", "--epochs", "1", "--out", "r1"}),
       1, "--steps and --epochs"},
      {"train_out_holds_a_run",
       tiny({"train"}, {"--vocab", "v.txt", "--data", "gone.csv", "--out", "run_done"}),
       1,
       "already holds a training run",
       {"run_done/metrics.jsonl"}},
      {"train_data_smaller_than_a_batch",
       tiny({"train"}, {"--vocab", "v.txt", "--data", "gone.csv", "--steps", "1", "--out", "r2"}), 1,
       "fewer than one batch of 16"},
      {"train_flip_swap_not_a_pair",
       tiny({"train"}, {"--vocab", "v.txt", "--data", "gone.csv", "--flip-swap", "left", "--out", "r3"}), 1,
       "--flip-swap"},
      {"train_frames_past_the_table",
       tiny({"train"}, {"--vocab", "v.txt", "--data", "gone.csv", "--frames", "8", "--out", "r4"}), 1,
       "--frames 8"},
      {"synthetic_odd_size", {"synthetic", "--out", "syn", "--size", "33"}, 1, "size must be even"},
      // -- index and search --
      {"index_nothing", tiny({"index"}, {"--out", "n.index"}), 1, "nothing to do"},
      {"index_only_missing_items", tiny({"index"}, {"--out", "n.index", "nope.mp4"}), 1,
       "none of the 1 items could be indexed"},
      {"index_out_is_an_input", tiny({"index"}, {"--out", "img.png", "img.png"}), 1, "img.png", {"img.png"}},
      {"search_nothing", tiny({"search"}, {"--index", "w.safetensors"}), 1, "nothing to search for"},
      {"search_not_an_index", tiny({"search"}, {"--vocab", "v.txt", "--index", "w.safetensors", "a dog"}), 1,
       "not a frost index"},
      {"search_index_missing", tiny({"search"}, {"--vocab", "v.txt", "--index", "none.index", "a dog"}), 1,
       "none.index"},
      {"search_k_zero", tiny({"search"}, {"--index", "w.safetensors", "-k", "0", "a"}), 1, "-k"},
      {"plan_accumulation_without_train",
       {"plan", "--config", "tiny", "--part", "dual", "--accumulation", "2"},
       1,
       "apply to --train only"},
      {"plan_clip_norm_negative",
       {"plan", "--config", "tiny", "--part", "dual", "--train", "--clip-norm", "-1"},
       1,
       "--clip-norm"},
      {"clips_of_the_wrong_size",
       tiny({"encode", "video"}, {"clips224.safetensors", "--out", "o.safetensors"}),
       1,
       "none of the 1 inputs could be read",
       {"clips224.safetensors"}},
      {"clips_of_the_wrong_size_strict",
       tiny({"encode", "video"}, {"clips224.safetensors", "--out", "o.safetensors", "--strict"}), 1,
       "clips F32[1, 2, 3, 224, 224] do not fit the model of config 'tiny', which takes F32 [N, F, 3, 32, "
       "32]"},
      // -- crashes --
      {"tiny_video_2x2",
       {"clip", "raw_2x2.mkv", "--out", "o_2x2.safetensors"},
       0,
       "raw_2x2.mkv: 5 frames",
       {"raw_2x2.mkv"}},
      {"tiny_video_8x6",
       {"clip", "ffv1_8x6.mkv", "--frames", "2", "--size", "8", "--out", "o_8x6.safetensors"},
       0,
       "clips F32[1, 2, 3, 8, 8]"},
      {"path_not_utf8",
       {"clip",
        "bad\xff"
        "name.png",
        "--out", "o_utf8.safetensors"},
       0,
       "bad\\xFFname.png: 1 frame",
       {},
       {},
       "",
       "",
       "info o_utf8.safetensors",
       "bad\\\\xFFname.png"},
      {"path_component_too_long_input",
       {"clip", kLong + ".mkv", "--out", "o.safetensors"},
       1,
       "unreachable (File name too long)"},
      {"path_component_too_long_output", {"clip", "img.png", "--out", long_out}, 1, "longer than the 255"},
      {"config_ffn_dim_absurd",
       {"plan", "--config", "c_ffn_huge.json"},
       1,
       "text.ffn_dim must be in 1..262144"},
      {"config_mlp_dim_absurd",
       {"plan", "--config", "c_mlp_huge.json"},
       1,
       "video.mlp_dim must be in 1..262144"},
      {"config_depth_absurd", {"plan", "--config", "c_depth_huge.json"}, 1, "video.depth must be in 1..256"},
      {"config_patches_absurd", {"plan", "--config", "c_patches_huge.json"}, 1, "patches per frame"},
      {"config_dev_zero", {"plan", "--config", "/dev/zero"}, 1, "config /dev/zero: is a character device"},
      {"config_not_integer",
       {"plan", "--config", "c_float.json"},
       1,
       "field 'dim' must be an integer, got 64.5"},
      {"config_duplicate_key", {"plan", "--config", "c_duplicate.json"}, 1, "field 'dim' appears twice"},
      {"config_eps_infinite", {"plan", "--config", "c_nan_eps.json"}, 1, "c_nan_eps.json: "},
      {"config_named_after_file",
       {"plan", "--config", "c_unnamed_tiny.json"},
       0,
       "plan of c_unnamed_tiny video"},
      {"plan_batch_wraps_nothing",
       {"plan", "--config", "tiny", "--batch", "65536", "--part", "dual", "--text-len", "64"},
       0,
       "plan of tiny dual inference, batch 65536"},
      // -- damage: an output that is an input is refused before any work --
      {"out_is_weights",
       text_cmd({"a dog", "--out", "w.safetensors"}),
       1,
       "is the input w.safetensors",
       {"w.safetensors"}},
      {"out_is_vocab", text_cmd({"a dog", "--out", "v.txt"}), 1, "is the input v.txt", {"v.txt"}},
      {"out_is_captions",
       text_cmd({"--captions", "captions.txt", "--out", "captions.txt"}),
       1,
       "is the input",
       {"captions.txt"}},
      {"out_is_config",
       {"encode", "text", "--config", "c_unnamed_tiny.json", "--weights", "w.safetensors", "--vocab", "v.txt",
        "a dog", "--out", "c_unnamed_tiny.json"},
       1,
       "is the input c_unnamed_tiny.json",
       {"c_unnamed_tiny.json"}},
      {"out_is_video_input", {"clip", "img.png", "--out", "img.png"}, 1, "is the input img.png", {"img.png"}},
      {"out_hard_link_to_weights",
       text_cmd({"a dog", "--out", "w_hardlink.safetensors"}),
       1,
       "(the same file)",
       {"w.safetensors", "w_hardlink.safetensors"}},
      {"out_symlink_to_weights",
       text_cmd({"a dog", "--out", "w_symlink.safetensors"}),
       1,
       "(the same file)",
       {"w.safetensors", "w_symlink.safetensors"}},
      {"out_inside_frame_folder",
       {"clip", "frames_ok", "--out", "frames_ok/0002.png"},
       1,
       "inside the input folder",
       {"frames_ok/0001.png"}},
      {"out_device", text_cmd({"a dog", "--out", "/dev/null"}), 1, "is a character device"},
      {"out_fifo", text_cmd({"a dog", "--out", "fifo"}), 1, "is a FIFO", {"fifo"}},
      {"out_directory", text_cmd({"a dog", "--out", "frames_ok"}), 1, "is a folder", {"frames_ok/0001.png"}},
      {"out_dot", text_cmd({"a dog", "--out", "."}), 1, "names a folder"},
      {"out_stdout", text_cmd({"a dog", "--out", "-"}), 1, "cannot write to standard output"},
      {"out_folder_missing", text_cmd({"a dog", "--out", "no/such/folder/o.safetensors"}), 1,
       "create the folder"},
      // -- hangs: FIFOs and devices where a file is mapped or seeked --
      {"fifo_as_weights",
       {"encode", "text", "--config", "tiny", "--weights", "fifo", "--vocab", "v.txt", "a", "--out",
        "o.safetensors"},
       1,
       "fifo: is a FIFO",
       {"fifo"}},
      {"fifo_as_vocab",
       {"encode", "text", "--config", "tiny", "--weights", "w.safetensors", "--vocab", "fifo", "a", "--out",
        "o.safetensors"},
       1,
       "vocabulary fifo: is a FIFO",
       {"fifo"}},
      {"fifo_as_config", {"plan", "--config", "fifo"}, 1, "config fifo: is a FIFO", {"fifo"}},
      {"fifo_as_info_file", {"info", "fifo"}, 1, "fifo: is a FIFO", {"fifo"}},
      {"fifo_as_video",
       tiny({"encode", "video"}, {"fifo", "--out", "o.safetensors"}),
       1,
       "input fifo is a FIFO",
       {"fifo"}},
      {"fifo_as_clip_input", {"clip", "fifo", "--out", "o.safetensors"}, 1, "input fifo is a FIFO", {"fifo"}},
      {"fifo_as_image",
       tiny({"encode", "image"}, {"fifo", "--out", "o.safetensors"}),
       1,
       "input fifo is a FIFO",
       {"fifo"}},
      {"device_as_weights",
       {"encode", "text", "--config", "tiny", "--weights", "/dev/zero", "--vocab", "v.txt", "a", "--out",
        "o.safetensors"},
       1,
       "/dev/zero: is a character device"},
      {"captions_from_stdin",
       text_cmd({"--captions", "-", "--out", "o_stdin.safetensors"}),
       0,
       "embeddings F32[2, 32]",
       {"captions.txt"},
       {},
       "captions.txt"},
      {"captions_from_device", text_cmd({"--captions", "/dev/zero", "--out", "o.safetensors"}), 1,
       "is a character device"},
      // -- silent wrong answers --
      {"weights_nan",
       {"encode", "text", "--config", "tiny", "--weights", "w_nan.safetensors", "--vocab", "v.txt", "a dog",
        "--out", "o.safetensors"},
       1,
       "the embedding of caption 'a dog' is not finite"},
      {"weights_nan_strict",
       {"encode", "text", "--config", "tiny", "--weights", "w_nan.safetensors", "--vocab", "v.txt", "a dog",
        "--out", "o.safetensors", "--strict"},
       1,
       "values are NaN or Inf (an error under --strict)"},
      {"weights_times_1e30",
       {"encode", "video", "--config", "tiny", "--weights", "w_big.safetensors", "img.png", "--out",
        "o.safetensors"},
       1,
       "the embedding of img.png is not finite"},
      {"image_given_a_video", tiny({"encode", "image"}, {"raw_2x2.mkv", "--out", "o.safetensors"}), 1,
       "input raw_2x2.mkv is not a PNG or JPEG image"},
      {"image_given_a_folder", tiny({"encode", "image"}, {"frames_ok", "--out", "o.safetensors"}), 1,
       "input frames_ok is a folder"},
      {"frame_folder_dangling_link", tiny({"encode", "video"}, {"frames_dangling", "--out", "o.safetensors"}),
       1, "none of the 1 inputs could be read"},
      {"vocab_too_short", tiny({"encode", "text"}, {"a dog", "--out", "o.safetensors", "--vocab", "v4.txt"}),
       1,
       "--vocab v4.txt has 4 tokens but the text model of config 'tiny' has a word-embedding table of 512 "
       "rows — give the vocab.txt the weights were trained with"},
      {"vocab_not_utf8",
       tiny({"encode", "text"}, {"a dog", "--out", "o.safetensors", "--vocab", "v_bad_utf8.txt"}), 1,
       "v_bad_utf8.txt: line 513 of the vocabulary is not valid UTF-8"},
      {"plan_prints_only_arenas_that_exist",
       {"plan", "--config", "tiny"},
       0,
       "activations",
       {},
       {},
       "",
       "optimizer"},
      {"info_escapes_names",
       {"info", "evil_names.safetensors"},
       0,
       "evil\\nname\\x1B[2J  F32[1]",
       {},
       {},
       "",
       "\x1b"},
      {"info_escapes_metadata", {"info", "evil_names.safetensors"}, 0, "note = line one\\nfake line"},
      // -- options that do not apply, values that do not fit --
      {"fix_start_without_fix_start",
       {"clip", "img.png", "--fix-start", "2", "--out", "o.safetensors"},
       1,
       "--fix-start applies to --sampling fix_start only"},
      {"seed_without_randomness",
       {"clip", "img.png", "--seed", "3", "--out", "o.safetensors"},
       1,
       "--seed has no effect here"},
      {"vocab_for_video",
       tiny({"encode", "video"}, {"img.png", "--vocab", "v.txt", "--out", "o.safetensors"}), 1,
       "--vocab does not apply to `encode video`"},
      {"frames_for_text", text_cmd({"a dog", "--frames", "2", "--out", "o.safetensors"}), 1,
       "--frames does not apply to `encode text`"},
      {"captions_for_video",
       tiny({"encode", "video"}, {"img.png", "--captions", "captions.txt", "--out", "o.safetensors"}), 1,
       "--captions does not apply"},
      {"frames_for_image", tiny({"encode", "image"}, {"img.png", "--frames", "2", "--out", "o.safetensors"}),
       1, "--frames does not apply to `encode image`"},
      {"frames_past_the_model",
       tiny({"encode", "video"}, {"img.png", "--frames", "8", "--out", "o.safetensors"}), 1,
       "takes 1 to 4 frames"},
      {"integer_in_octal", tiny({"encode", "video"}, {"img.png", "--batch", "010", "--out", "o.safetensors"}),
       1, "--batch takes a decimal integer, got '010'"},
      {"integer_in_hex",
       {"clip", "img.png", "--size", "0x20", "--out", "o.safetensors"},
       1,
       "--size takes a decimal integer, got '0x20'"},
      {"empty_option_value", tiny({"encode", "text"}, {"a dog", "--vocab", "", "--out", "o.safetensors"}), 1,
       "--vocab is empty"},
      {"captions_is_a_folder", text_cmd({"--captions", "frames_ok", "--out", "o.safetensors"}), 1,
       "--captions frames_ok is a folder"},
      {"frames_differ_from_clips_file",
       tiny({"encode", "video"},
            {"clips224.safetensors", "--frames", "3", "--out", "o.safetensors", "--strict"}),
       1, "its clips have 2 frames, not the --frames 3 asked for"},
      {"config_channels_not_rgb", {"plan", "--config", "c_channels.json"}, 1, "video.channels must be 3"},
      {"config_bert_without_token_types",
       {"plan", "--config", "c_bert_no_types.json"},
       1,
       "BERT needs at least one token type"},
      {"config_nul_in_key",
       {"plan", "--config", "c_nul_key.json"},
       1,
       "unknown field 'projection_dim\\x00x'"},
      {"config_unknown_field",
       {"plan", "--config", "c_unknown_field.json"},
       1,
       "video: unknown field 'depht'"},
      {"config_wrong_type",
       {"plan", "--config", "c_wrong_type.json"},
       1,
       "field 'layers' must be an integer, got \"six\""},
      {"config_section_not_object",
       {"plan", "--config", "c_text_array.json"},
       1,
       "text: must be a JSON object"},
      {"config_unknown_arch", {"plan", "--config", "c_arch.json"}, 1, "arch 'gpt2' (distilbert or bert)"},
      {"config_not_an_object", {"plan", "--config", "c_array.json"}, 1, "a config is a JSON object"},
      {"config_not_json",
       {"plan", "--config", "captions.txt"},
       1,
       "captions.txt: not valid JSON: parse error",
       {},
       {},
       "",
       "json.exception"},
      {"plan_frames_for_text",
       {"plan", "--config", "tiny", "--part", "text", "--frames", "2"},
       1,
       "--frames does not apply to --part text"},
      {"plan_text_len_past_the_model",
       {"plan", "--config", "tiny", "--part", "text", "--text-len", "65"},
       1,
       "has 64 positions"},
      {"backend_unknown", text_cmd({"a dog", "--backend", "tpu", "--out", "o.safetensors"}), 1,
       "--backend tpu is not in this build"},
      // -- damaged media: read as Pillow / FFmpeg read it, with a warning naming the file; refused where they
      // refuse it, and under --strict --
      {"damaged_jpeg_read_with_a_warning",
       {"clip", "stray.jpg", "--out", "o_dmg.safetensors"},
       0,
       "stray.jpg: 1 frame",
       {},
       {},
       "",
       "",
       "",
       "",
       "stray.jpg: damaged JPEG data (Corrupt JPEG data: 3 extraneous bytes before marker 0xdb)"},
      {"damaged_jpeg_strict",
       {"clip", "stray.jpg", "--out", "o.safetensors", "--strict"},
       1,
       "stray.jpg: damaged JPEG data"},
      {"truncated_jpeg_refused",
       {"clip", "truncated.jpg", "--out", "o.safetensors"},
       1,
       "none of the 1 inputs could be read",
       {},
       {},
       "",
       "",
       "",
       "",
       "truncated.jpg: cannot decode JPEG: the file is truncated"},
      {"tiff_refused_by_name",
       {"clip", "image.tif", "--out", "o.safetensors"},
       1,
       "none of the 1 inputs could be read",
       {},
       {},
       "",
       "",
       "",
       "",
       "image.tif: an image in TIFF format: frost reads PNG and JPEG images only"},
      {"damaged_video_read_with_a_warning",
       {"clip", "damaged.mp4", "--frames", "16", "--out", "o_dmgv.safetensors"},
       0,
       "damaged.mp4: 99 frames",
       {},
       {},
       "",
       "",
       "",
       "",
       "damaged.mp4: damaged data: the decoder rejects 1 packet, whose frame is lost (99 frames remain); "
       "frames "},
      {"damaged_video_strict",
       {"clip", "damaged.mp4", "--frames", "16", "--out", "o.safetensors", "--strict"},
       1,
       "damaged.mp4: damaged data"},
      // -- batch commands: unreadable items are skipped, said, and recorded; --strict refuses --
      {"clip_skips_unreadable",
       {"clip", "img.png", "not_a_video.mp4", "--out", "o_skip.safetensors"},
       0,
       "skipped 1 of 2 inputs",
       {},
       {},
       "",
       "",
       "info o_skip.safetensors",
       "\"skipped\":[{\"error\":"},
      {"clip_skips_unreadable_strict",
       {"clip", "img.png", "not_a_video.mp4", "--out", "o.safetensors", "--strict"},
       1,
       "not_a_video.mp4: "},
      {"encode_records_rows",
       tiny({"encode", "video"}, {"not_a_video.mp4", "img.png", "--out", "o_rows.safetensors"}),
       0,
       "skipped 1 of 2 inputs",
       {},
       {},
       "",
       "",
       "info o_rows.safetensors",
       "\"inputs\":[\"img.png\"]"},
      {"captions_not_utf8_skipped",
       text_cmd({"--captions", "captions_bad_utf8.txt", "--out", "o_cap.safetensors"}),
       0,
       "skipped 1 of 3 inputs",
       {},
       {},
       "",
       "",
       "info o_cap.safetensors",
       "captions_bad_utf8.txt:2"},
  };
}

class CliTable : public CliBadInput, public ::testing::WithParamInterface<Row> {};

TEST_P(CliTable, ExitCodeMessageAndFilesUnchanged) {
  ASSERT_TRUE(setup_error_.empty()) << setup_error_;
  const Row& row = GetParam();
  std::map<std::string, std::string> before;
  for (const std::string& f : row.unchanged) before[f] = snapshot(dir_ + "/" + f);
  const std::string stdin_file = row.stdin_file.empty() ? "" : dir_ + "/" + row.stdin_file;
  const Result r = run_frost(row.args, row.env, dir_, stdin_file, 120);
  const std::string all = r.out + r.err;
  SCOPED_TRACE("stdout:\n" + r.out + "\nstderr:\n" + r.err);
  ASSERT_NE(r.exit_code, -2) << "timed out (a hang)";
  ASSERT_EQ(r.signal, 0) << "killed by signal " << r.signal;
  EXPECT_EQ(r.exit_code, row.exit_code);
  for (const char* crash : {"terminate called", "Sanitizer", "runtime error:", "Aborted", "what():"})
    EXPECT_EQ(all.find(crash), std::string::npos) << crash;
  for (const char* internal : {"encode_clips", "DualEncoder", "write_safetensors", "build_fit_graph",
                               "sample_frame_indices", "json.exception.type_error"})
    EXPECT_EQ(all.find(internal), std::string::npos) << internal;
  if (row.exit_code == 0) {
    EXPECT_NE(r.out.find(row.message), std::string::npos) << "want in stdout: " << row.message;
  } else {
    // One line per error: the last line of stderr, in the policy's form; earlier lines are warnings or notes.
    std::vector<std::string> lines;
    std::istringstream err(r.err);
    for (std::string l; std::getline(err, l);) lines.push_back(l);
    ASSERT_FALSE(lines.empty());
    EXPECT_EQ(lines.back().rfind("frost", 0), 0u) << lines.back();
    EXPECT_NE(lines.back().find(" — "), std::string::npos) << "no what-to-do: " << lines.back();
    EXPECT_NE(lines.back().find(row.message), std::string::npos) << "want: " << row.message;
    // (libgomp itself complains of an invalid OMP_NUM_THREADS, after an empty line, when it loads.)
    for (size_t i = 0; i + 1 < lines.size(); ++i)
      EXPECT_TRUE(lines[i].find(": warning: ") != std::string::npos ||
                  lines[i].find(": note: ") != std::string::npos || lines[i].rfind("libgomp: ", 0) == 0 ||
                  (lines[i].empty() && i + 2 < lines.size() && lines[i + 1].rfind("libgomp: ", 0) == 0))
          << "an extra line: " << lines[i];
  }
  if (!row.warning.empty()) {
    bool found = false;
    std::istringstream err(r.err);
    for (std::string l; std::getline(err, l);)
      found =
          found || (l.find(": warning: ") != std::string::npos && l.find(row.warning) != std::string::npos);
    EXPECT_TRUE(found) << "want a warning with: " << row.warning << "\n" << r.err;
  }
  if (!row.absent.empty()) {
    EXPECT_EQ(all.find(row.absent), std::string::npos) << "must not show: " << row.absent;
  }
  for (const std::string& f : row.unchanged)
    EXPECT_EQ(snapshot(dir_ + "/" + f), before[f]) << f << " changed";
  if (!row.then.empty()) {
    std::vector<std::string> args;
    std::istringstream words(row.then);
    for (std::string w; words >> w;) args.push_back(w);
    const Result t = run_frost(args, {}, dir_, "", 60);
    EXPECT_EQ(t.exit_code, 0) << t.err;
    EXPECT_NE(t.out.find(row.then_message), std::string::npos) << t.out;
  }
}

INSTANTIATE_TEST_SUITE_P(Rows, CliTable, ::testing::ValuesIn(rows()),
                         [](const ::testing::TestParamInfo<Row>& info) { return info.param.name; });

// ---- outputs replaced in place: mode kept, umask honoured, symlinks written through --------------------

TEST_F(CliBadInput, ReplacingAFileKeepsItsModeAndANewFileHonoursTheUmask) {
  ASSERT_TRUE(setup_error_.empty()) << setup_error_;
  const std::string kept = dir_ + "/mode_kept.safetensors";
  write("mode_kept.safetensors", "old");
  ASSERT_EQ(::chmod(kept.c_str(), 0600), 0);
  Result r = run_frost(text_cmd({"a dog", "--out", "mode_kept.safetensors"}), {}, dir_, "", 60);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  struct stat st {};
  ASSERT_EQ(::stat(kept.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_GT(st.st_size, 100);

  const mode_t old_mask = ::umask(027);  // inherited by the child
  r = run_frost(text_cmd({"a dog", "--out", "mode_new.safetensors"}), {}, dir_, "", 60);
  ::umask(old_mask);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(::stat((dir_ + "/mode_new.safetensors").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  // No temporary file is left beside the outputs.
  for (const auto& e : fs::directory_iterator(dir_))
    EXPECT_EQ(e.path().filename().string().rfind(".frost-", 0), std::string::npos) << e.path();
}

TEST_F(CliBadInput, ASymlinkOutputReplacesItsTargetAndStaysALink) {
  ASSERT_TRUE(setup_error_.empty()) << setup_error_;
  write("link_target.safetensors", "old");
  fs::create_symlink("link_target.safetensors", dir_ + "/link.safetensors");
  const Result r = run_frost(text_cmd({"a dog", "--out", "link.safetensors"}), {}, dir_, "", 60);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::is_symlink(dir_ + "/link.safetensors"));
  EXPECT_EQ(fs::read_symlink(dir_ + "/link.safetensors").string(), "link_target.safetensors");
  EXPECT_NO_THROW(loader::SafetensorsFile::open(dir_ + "/link_target.safetensors").read("embeddings"));
}

// OpenMP told to hand out fewer threads than frost asks for (dynamic adjustment, a thread limit, no active
// levels) once gave oneDNN fewer threads than it had planned for: wrong embeddings, exit 0. Each setting
// must give the embeddings of a plain run with the same thread count, bit for bit.
TEST_F(CliBadInput, OpenMpSettingsNeverChangeTheEmbeddings) {
  ASSERT_TRUE(setup_error_.empty()) << setup_error_;
  auto embed = [&](const std::map<std::string, std::string>& env, const char* threads,
                   const std::string& out) {
    const Result r =
        run_frost(tiny({"encode", "video"}, {"img.png", "ffv1_8x6.mkv", "--threads", threads, "--out", out}),
                  env, dir_, "", 120);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return loader::SafetensorsFile::open(dir_ + "/" + out).read("embeddings");
  };
  const HostTensor one = embed({}, "1", "omp_one.safetensors"), two = embed({}, "2", "omp_two.safetensors");
  auto same = [](const HostTensor& a, const HostTensor& b) {
    return a.bytes() == b.bytes() && std::memcmp(a.raw(), b.raw(), a.bytes()) == 0;
  };
  EXPECT_TRUE(same(embed({{"OMP_DYNAMIC", "true"}}, "2", "omp_dynamic.safetensors"), two));
  EXPECT_TRUE(same(embed({{"OMP_THREAD_LIMIT", "1"}}, "2", "omp_limit.safetensors"), one));
  EXPECT_TRUE(same(embed({{"OMP_MAX_ACTIVE_LEVELS", "0"}}, "2", "omp_levels.safetensors"), one));
}

// Past a file-size limit (ulimit -f) the write fails: one error line, exit 1, no temporary file left.
TEST_F(CliBadInput, AFileSizeLimitIsAnErrorNotASignal) {
  ASSERT_TRUE(setup_error_.empty()) << setup_error_;
  fs::create_directories(dir_ + "/limited");
  const std::string cmd = "cd '" + dir_ +
                          "' && ulimit -f 16 && exec '" FROST_BINARY
                          "' clip img.png --out limited/o.safetensors 2>limited/.err >/dev/null";
  const int status = std::system(("sh -c \"" + cmd + "\"").c_str());
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 1);
  EXPECT_NE(slurp(dir_ + "/limited/.err").find("File too large"), std::string::npos)
      << slurp(dir_ + "/limited/.err");
  for (const auto& e : fs::directory_iterator(dir_ + "/limited"))
    EXPECT_EQ(e.path().filename().string().rfind(".frost-", 0), std::string::npos) << e.path();
}

}  // namespace
}  // namespace frost
