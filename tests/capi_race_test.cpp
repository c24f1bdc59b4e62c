// The C API's thread safety under ThreadSanitizer (make test-race: a ThreadSanitizer build of the library
// and this program). One model and one index are shared by eight threads that encode captions and frames,
// tokenize, search (concurrent readers of the index) and add to it (a writer), while the main thread checks
// every result against what one thread alone got. The model computes with one thread per call: libgomp is
// not instrumented, and its barriers would be reported as races; with a one-thread team frost opens no
// OpenMP region (ops/cpu/parallel.h) and oneDNN runs its one-thread path inline, so what TSan watches is
// frost's own locking. Exit status 0 when every result matched; TSan's own exit code (66) on a race.
//   capi_race_test WEIGHTS VOCAB
#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "frost/frost.h"

namespace {

std::atomic<int> failures{0};

void check(bool ok, const std::string& what) {
  if (!ok) {
    std::fprintf(stderr, "capi_race_test: %s (%s)\n", what.c_str(), frost_last_error());
    ++failures;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s WEIGHTS VOCAB\n", argv[0]);
    return 2;
  }
  frost_model_options o;
  frost_model_options_init(&o);
  o.config = "tiny";
  o.vocab = argv[2];
  o.threads = 1;
  o.batch_size = 2;
  frost_model* model = nullptr;
  if (frost_model_open(argv[1], &o, &model) != FROST_OK) {
    std::fprintf(stderr, "capi_race_test: %s\n", frost_last_error());
    return 1;
  }
  const char* captions[] = {"dog running on the beach", "a man is cooking food", "cat", "night street"};
  const size_t D = frost_model_embedding_dim(model), N = 4;
  std::vector<float> want_text(N * D), want_frames(D);
  std::vector<uint8_t> rgb(3 * 24 * 20 * 3);
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = uint8_t(i * 13);
  check(frost_encode_text(model, captions, N, want_text.data(), want_text.size()) == FROST_OK, "text");
  check(frost_encode_frames(model, rgb.data(), 1, 3, 24, 20, want_frames.data(), D) == FROST_OK, "frames");
  frost_index* index = nullptr;
  check(frost_index_create(model, &index) == FROST_OK, "index");
  for (size_t i = 0; i < N; ++i)
    check(frost_index_add(index, captions[i], want_text.data() + i * D, D) == FROST_OK, "add");

  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      std::vector<float> text(N * D), frames(D);
      frost_hit hits[4];
      size_t n = 0;
      for (int rep = 0; rep < 3; ++rep) {
        switch (t % 4) {
          case 0:
            check(frost_encode_text(model, captions, N, text.data(), text.size()) == FROST_OK, "text");
            check(text == want_text, "text differs under threads");
            break;
          case 1:
            check(frost_encode_frames(model, rgb.data(), 1, 3, 24, 20, frames.data(), D) == FROST_OK,
                  "frames");
            check(frames == want_frames, "frames differ under threads");
            break;
          case 2:
            check(frost_index_search_text(index, model, captions[rep], 1, hits, &n) == FROST_OK,
                  "search_text");
            check(n == 1 && hits[0].row == size_t(rep), "search_text finds the caption's own row");
            break;
          case 3: {
            // Short names (held inside std::string, so a reallocation of the items moves them), replaced
            // and removed while other threads read names and search.
            const std::string name = "x" + std::to_string(t) + std::to_string(rep);
            check(frost_index_add(index, name.c_str(), want_frames.data(), D) == FROST_OK, "add");
            check(frost_index_add(index, name.c_str(), want_text.data(), D) == FROST_OK, "replace");
            check(frost_index_add(index, "tmp", want_frames.data(), D) == FROST_OK, "add tmp");
            int removed = 0;
            check(frost_index_remove(index, "tmp", &removed) == FROST_OK, "remove");
            check(frost_index_search(index, want_text.data(), D, 4, hits, &n) == FROST_OK, "search");
            char item[64];
            size_t length = 0;
            check(frost_index_item(index, hits[0].row, item, sizeof item, &length) == FROST_OK &&
                      std::strcmp(item, captions[0]) == 0 && length == std::strlen(captions[0]),
                  "search finds the query's own row");
            for (size_t row = 0; row < N; ++row)
              check(frost_index_item(index, row, item, sizeof item, &length) == FROST_OK &&
                        std::strcmp(item, captions[row]) == 0,
                    "the captions' rows keep their names");
            size_t ids_n = 0;
            int32_t ids[16];
            check(frost_tokenize(model, captions[1], ids, 16, &ids_n) == FROST_OK && ids_n > 2, "tokenize");
            break;
          }
        }
      }
    });
  for (std::thread& t : threads) t.join();
  check(frost_index_size(index) == N + 2 * 3, "every thread's additions are in the index");
  frost_index_free(index);
  frost_model_free(model);
  if (failures == 0)
    std::printf("capi_race_test: 8 threads on one model and one index: all results matched\n");
  return failures == 0 ? 0 : 1;
}
