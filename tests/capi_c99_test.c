/* frost.h as a C99 program sees it (compiled -std=c99 -pedantic -Werror): open the tiny model, rank three
 * captions for a clip of frames in memory, and check what a C caller relies on. argv: weights, vocab.
 * Exit status 0 when every check holds; each failure is printed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frost/frost.h"

static int failures = 0;
#define CHECK(cond)                                                                  \
  do {                                                                               \
    if (!(cond)) {                                                                   \
      fprintf(stderr, "%s:%d: %s failed (%s)\n", __FILE__, __LINE__, #cond, frost_last_error()); \
      ++failures;                                                                    \
    }                                                                                \
  } while (0)

int main(int argc, char** argv) {
  frost_model_options options;
  frost_model* model = NULL;
  const char* captions[3] = {"dog running on the beach", "a man is cooking food", "cat"};
  float text[3 * 32], clip[32], scores[3];
  unsigned char frames[2 * 20 * 24 * 3];
  size_t i, dim;
  if (argc != 3) {
    fprintf(stderr, "usage: %s WEIGHTS VOCAB\n", argv[0]);
    return 2;
  }
  CHECK(frost_api_version() == FROST_API_VERSION);
  CHECK(strcmp(frost_version(), "0.1.0") == 0);
  frost_model_options_init(&options);
  CHECK(options.struct_size == sizeof options && options.towers == FROST_TOWERS_BOTH && options.log == NULL);
  options.config = "tiny";
  options.vocab = argv[2];
  options.threads = 1;
  CHECK(frost_model_open(argv[1], &options, &model) == FROST_OK);
  if (model == NULL) return 1;
  dim = frost_model_embedding_dim(model);
  CHECK(dim == 32);
  for (i = 0; i < sizeof frames; ++i) frames[i] = (unsigned char)(i * 31u);
  CHECK(frost_encode_text(model, captions, 3, text, 3 * 32) == FROST_OK);
  CHECK(frost_encode_frames(model, frames, 1, 2, 20, 24, clip, 32) == FROST_OK);
  CHECK(frost_similarity(text, 3, clip, 1, dim, scores, 3) == FROST_OK);
  for (i = 0; i < 3; ++i) CHECK(scores[i] >= -1.0f && scores[i] <= 1.0f && !isnan(scores[i]));
  /* Errors: a status, a message, no crash. */
  CHECK(frost_encode_text(NULL, captions, 3, text, 96) == FROST_INVALID_ARGUMENT);
  CHECK(strstr(frost_last_error(), "model is NULL") != NULL);
  CHECK(frost_encode_text(model, captions, 3, text, 95) == FROST_INVALID_ARGUMENT);
  frost_model_free(model);
  frost_model_free(NULL);
  return failures == 0 ? 0 : 1;
}
