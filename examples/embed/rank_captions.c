/* Ranks captions for a video clip through frost's C API: the smallest complete product.
 *
 *   rank_captions WEIGHTS VIDEO CAPTION... [--config NAME] [--vocab FILE]
 *
 * Prints each caption with its cosine similarity to the clip, best first. Exit status: 0 on success, 1 when
 * frost reports an error (its message on stderr), 2 for a usage error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <frost/frost.h>

static void log_message(void* user, frost_log_level level, const char* message) {
  (void)user;
  fprintf(stderr, "frost %s: %s\n", level == FROST_LOG_WARNING ? "warning" : "note", message);
}

static int fail(const char* what) {
  fprintf(stderr, "rank_captions: %s: %s\n", what, frost_last_error());
  return 1;
}

int main(int argc, char** argv) {
  frost_model_options options;
  frost_model* model = NULL;
  const char** captions = NULL;
  float *text = NULL, *clip = NULL, *scores = NULL;
  size_t count = 0, dim, i, j, *order = NULL;
  int status = 1, a;
  if (argc < 4) {
    fprintf(stderr, "usage: %s WEIGHTS VIDEO CAPTION... [--config NAME] [--vocab FILE]\n", argv[0]);
    return 2;
  }
  frost_model_options_init(&options);
  options.log = log_message;
  captions = malloc(sizeof *captions * (size_t)argc);
  if (captions == NULL) return 1;
  for (a = 3; a < argc; ++a) {
    if ((strcmp(argv[a], "--config") == 0 || strcmp(argv[a], "--vocab") == 0) && a + 1 < argc) {
      if (argv[a][2] == 'c') options.config = argv[a + 1];
      else options.vocab = argv[a + 1];
      ++a;
    } else {
      captions[count++] = argv[a];
    }
  }
  if (frost_model_open(argv[1], &options, &model) != FROST_OK) {
    free(captions);
    return fail("opening the model");
  }
  dim = frost_model_embedding_dim(model);
  text = malloc(sizeof *text * count * dim);
  clip = malloc(sizeof *clip * dim);
  scores = malloc(sizeof *scores * count);
  order = malloc(sizeof *order * count);
  if (text == NULL || clip == NULL || scores == NULL || order == NULL) goto done;
  if (frost_encode_text(model, captions, count, text, count * dim) != FROST_OK) {
    status = fail("encoding the captions");
    goto done;
  }
  if (frost_encode_videos(model, (const char* const*)&argv[2], 1, clip, dim) != FROST_OK) {
    status = fail("encoding the video");
    goto done;
  }
  if (frost_similarity(text, count, clip, 1, dim, scores, count) != FROST_OK) {
    status = fail("comparing");
    goto done;
  }
  for (i = 0; i < count; ++i) order[i] = i;
  for (i = 1; i < count; ++i) /* insertion sort, best first */
    for (j = i; j > 0 && scores[order[j]] > scores[order[j - 1]]; --j) {
      size_t t = order[j];
      order[j] = order[j - 1];
      order[j - 1] = t;
    }
  for (i = 0; i < count; ++i) printf("%.4f\t%s\n", scores[order[i]], captions[order[i]]);
  status = 0;
done:
  free(order);
  free(scores);
  free(clip);
  free(text);
  free(captions);
  frost_model_free(model);
  return status;
}
