/* frost — the C API of the Frozen in Time video–text dual encoder (Bain et al., ICCV 2021).
 *
 * Open a model from its weights, embed captions, video clips and images into one space, compare them, and
 * keep a retrieval index of videos to search with text:
 *
 *   frost_model* model = NULL;
 *   if (frost_model_open("fit.safetensors", NULL, &model) != FROST_OK) {
 *     fprintf(stderr, "%s\n", frost_last_error());
 *     return 1;
 *   }
 *   size_t dim = frost_model_embedding_dim(model);            // 256 for the base model
 *   const char* captions[] = {"a dog runs on the beach", "a cooking show"};
 *   float* text = malloc(2 * dim * sizeof(float));
 *   frost_encode_text(model, captions, 2, text, 2 * dim);      // (2, dim), row-major
 *   const char* videos[] = {"clip.mp4"};
 *   float* video = malloc(dim * sizeof(float));
 *   frost_encode_videos(model, videos, 1, video, dim);         // sampled and preprocessed as the reference
 *   float scores[2];
 *   frost_similarity(text, 2, video, 1, dim, scores, 2);       // cosine, (2, 1)
 *   frost_model_free(model);
 *
 * Conventions
 * - Every function that can fail returns a frost_status; on failure, frost_last_error() gives a message
 *   naming what was wrong (the argument, file, shape). Handles returned through an output argument are
 *   left as they were; the contents of an output array are unspecified (an encoding that fails part-way
 *   may have written the batches before the failure). Nothing aborts or exits the process on bad input.
 * - Handles (frost_model, frost_index) are opaque; each is released by its own frost_*_free, which accepts
 *   NULL. frost hands out no other allocation: arrays are the caller's, sized as each function says
 *   (`capacity` counts elements, not bytes).
 * - Embeddings are float32 rows, row-major, `frost_model_embedding_dim` wide, as the model outputs them (not
 *   normalised; frost_similarity and the index normalise).
 * - Strings are UTF-8 and NUL-terminated. Paths are the operating system's.
 * - Threads: a model may be used from several threads at once; its encoding calls are serialised (each call
 *   already computes with the model's `threads`). Separate models run concurrently. An index may be read
 *   (size, item, search) from several threads at once; adding, removing and saving take it exclusively.
 *   frost_last_error() is per thread.
 * - Process state: frost never prints (messages go to the log callback, if given), installs no signal
 *   handler, leaves the locale and FFmpeg's log level alone, and sets OpenMP's thread count only on the
 *   calling thread, only during a call, and restores it.
 *
 * Versions: FROST_VERSION_* is the release this header belongs to; FROST_API_VERSION changes whenever a
 * function or struct of this header changes incompatibly. frost_api_version() is the library's, to compare
 * with the header a program was built against.
 */
#ifndef FROST_FROST_H
#define FROST_FROST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define FROST_API __attribute__((visibility("default")))
#else
#define FROST_API
#endif

#define FROST_VERSION_MAJOR 0
#define FROST_VERSION_MINOR 1
#define FROST_VERSION_PATCH 0
#define FROST_API_VERSION 1

/* ---- status and errors -------------------------------------------------------------------------------- */

typedef enum frost_status {
  FROST_OK = 0,
  FROST_INVALID_ARGUMENT = 1, /* a NULL handle or pointer, a buffer too small, an unknown option value */
  FROST_BAD_FILE = 2,         /* a file that is damaged or not what it should be (not a model, say) */
  FROST_UNSUPPORTED = 3,      /* valid, but this build cannot do it (a backend it lacks, a video codec) */
  FROST_IO = 4,               /* the system refused a read or write (permissions, disk full) */
  FROST_NUMERICAL = 5,        /* a computation gave non-finite values */
  FROST_CANCELLED = 6,        /* the progress callback asked to stop */
  FROST_OUT_OF_MEMORY = 7,
  FROST_INTERNAL = 8,         /* a bug in frost: please report it with the message */
  FROST_STATUS_FORCE_INT32 = 0x7fffffff /* not a status: keeps the enum 32 bits wide on every compiler */
} frost_status;

/* The release, "0.1.0". Static storage. */
FROST_API const char* frost_version(void);
/* FROST_API_VERSION of the library loaded. */
FROST_API int frost_api_version(void);
/* "FROST_OK", "FROST_INVALID_ARGUMENT", ...; "unknown" for another value. Static storage. */
FROST_API const char* frost_status_name(frost_status status);
/* The message of this thread's last failed call; "" when none has failed. Valid until this thread's next
 * frost call. */
FROST_API const char* frost_last_error(void);
/* The licence notices of what the library carries inside itself (the default BERT uncased vocabulary,
 * Apache 2.0). Static storage. */
FROST_API const char* frost_notices(void);
/* Whether the backend `name` ("cpu", "reference", "cuda") can run here: *available is 1 or 0. "cuda" is
 * available in a build with CUDA on a machine with a CUDA device (opening a model on it elsewhere fails
 * with FROST_UNSUPPORTED, saying why). */
FROST_API frost_status frost_backend_available(const char* name, int* available);

/* ---- callbacks ---------------------------------------------------------------------------------------- */

typedef enum frost_log_level {
  FROST_LOG_NOTE = 0,   /* a choice made for the caller: a config or vocabulary inferred, a hash computed */
  FROST_LOG_WARNING = 1, /* something probably wrong in an input: damaged frames, non-finite weights */
  FROST_LOG_FORCE_INT32 = 0x7fffffff
} frost_log_level;
/* Called on the thread of the call that has something to say; `message` is valid during the call only. */
typedef void (*frost_log_fn)(void* user, frost_log_level level, const char* message);
/* Called during long calls after each batch: `done` of `total` inputs. Return nonzero to stop; the call
 * then returns FROST_CANCELLED, with the rows of the batches done written. Callbacks run on the thread of
 * the call and must not call frost with the same model (its calls are serialised: that would wait
 * forever). */
typedef int (*frost_progress_fn)(void* user, size_t done, size_t total);

/* ---- the model ------------------------------------------------------------------------------------------ */

typedef struct frost_model frost_model;

typedef enum frost_towers {
  FROST_TOWERS_BOTH = 0,  /* text and video */
  FROST_TOWERS_TEXT = 1,  /* captions only: the video weights are not read */
  FROST_TOWERS_VIDEO = 2, /* clips, videos and images only */
  FROST_TOWERS_FORCE_INT32 = 0x7fffffff
} frost_towers;

typedef struct frost_model_options {
  size_t struct_size;   /* sizeof(frost_model_options), set by frost_model_options_init */
  const char* config;   /* "base", "tiny" or a JSON config file; NULL: the one the weights record, else base */
  const char* vocab;    /* a vocab.txt, tokenizer.json or Hugging Face model folder; NULL: the one the
                           weights record, else the built-in BERT uncased vocabulary (the reference's) */
  const char* backend;  /* "cpu" (NULL), "reference" or "cuda" */
  int threads;          /* threads to compute with; 0: OpenMP's default (OMP_NUM_THREADS, else the cores) */
  int batch_size;       /* inputs per run; 0: 8 */
  int32_t towers;       /* a frost_towers value: which towers to load (an int32_t: the struct's layout does
                           not depend on the compiler's choice of enum size) */
  frost_log_fn log;     /* NULL: messages are dropped */
  void* log_user;
  frost_progress_fn progress; /* NULL: no progress, no cancelling */
  void* progress_user;
} frost_model_options;

/* Fills `options` with the defaults (above). */
FROST_API void frost_model_options_init(frost_model_options* options);

/* Opens the dual encoder from a Frozen in Time checkpoint (.safetensors as frost writes or converts them, or
 * the released PyTorch .pth/.tar). `options` may be NULL (the defaults). The weights are mapped, not
 * copied, where their layout allows. Fails with FROST_BAD_FILE for a file that is not such a model (or a
 * config that is neither "base", "tiny" nor a readable JSON file), FROST_INVALID_ARGUMENT for option values
 * out of range or a vocabulary that does not fit the model, FROST_UNSUPPORTED for a backend this build or
 * machine lacks. */
FROST_API frost_status frost_model_open(const char* weights_path, const frost_model_options* options,
                                        frost_model** model);
FROST_API void frost_model_free(frost_model* model);

/* Width of the embeddings (the projection's: 256 for base); 0 for a NULL model. */
FROST_API size_t frost_model_embedding_dim(const frost_model* model);
/* Frames per clip the model was trained on (4 for base), and the side of its square input (224). */
FROST_API size_t frost_model_num_frames(const frost_model* model);
FROST_API size_t frost_model_image_size(const frost_model* model);
/* The model's config as JSON (the one `frost` records in checkpoints). Owned by the model. */
FROST_API const char* frost_model_config_json(const frost_model* model);

/* The token ids of `text` as the model's tokenizer gives them, [CLS] ... [SEP] included (not truncated).
 * *count is set to their number; `ids` (capacity elements) receives them. ids = NULL with capacity = 0
 * asks the number only (FROST_OK). FROST_INVALID_ARGUMENT for invalid UTF-8, a model opened without its
 * text tower, or a capacity below *count (then *count is still set). */
FROST_API frost_status frost_tokenize(frost_model* model, const char* text, int32_t* ids, size_t capacity,
                                      size_t* count);

/* ---- encoding -------------------------------------------------------------------------------------------
 * Each writes `count` rows of frost_model_embedding_dim floats into `embeddings`, whose capacity (floats)
 * must be at least count × dim. count = 0 writes nothing and succeeds. Text needs the text tower, the
 * others the video tower (FROST_INVALID_ARGUMENT for a model opened without it). */

/* Captions; each batch is padded to its longest caption, which the attention mask keeps out of the result
 * (to float rounding: a caption's embedding may differ by about 1e-6 between batches). Captions longer than
 * the text model's positions (512 for base) are truncated, as the reference's tokenizer does. */
FROST_API frost_status frost_encode_text(frost_model* model, const char* const* captions, size_t count,
                                         float* embeddings, size_t capacity);

/* Clips of decoded frames in memory: `count` clips of `frames` frames each, every frame height × width × 3
 * bytes, RGB, row-major (height, width, channel), the frames of a clip consecutive and the clips consecutive.
 * Each frame is resized, centre-cropped and normalised as the reference's test transform; 1 ≤ frames ≤
 * frost_model_num_frames (fewer frames: the model's temporal embeddings are used in part, as the reference
 * does). */
FROST_API frost_status frost_encode_frames(frost_model* model, const uint8_t* rgb, size_t count, size_t frames,
                                           size_t height, size_t width, float* embeddings, size_t capacity);

/* Video files (through FFmpeg, in builds that have it), folders of frame images, or images: frames sampled
 * uniformly (the middle of each segment) and preprocessed as the reference at test time. Damaged but
 * readable data is a warning to the log callback; an unreadable input fails the call, naming it. */
FROST_API frost_status frost_encode_videos(frost_model* model, const char* const* paths, size_t count,
                                           float* embeddings, size_t capacity);

/* Images (PNG, JPEG), each as a one-frame clip: the reference's image path. */
FROST_API frost_status frost_encode_images(frost_model* model, const char* const* paths, size_t count,
                                           float* embeddings, size_t capacity);

/* Cosine similarity of every row of a (a_rows, dim) with every row of b (b_rows, dim), rows scaled by
 * 1 / max(norm, 1e-8) as the reference's sim_matrix: `scores` (capacity ≥ a_rows × b_rows) receives
 * (a_rows, b_rows), row-major. */
FROST_API frost_status frost_similarity(const float* a, size_t a_rows, const float* b, size_t b_rows, size_t dim,
                                        float* scores, size_t capacity);

/* ---- the retrieval index ---------------------------------------------------------------------------------
 * Normalised video embeddings and the items they came from, in one file that `frost index` and
 * `frost search` read and write too. An item is named by its path (or any unique id); adding a name already
 * present replaces its row. Search is exact cosine top-k. */

typedef struct frost_index frost_index;

typedef struct frost_hit {
  size_t row;  /* the item's row: frost_index_item gives its name */
  float score; /* cosine similarity */
} frost_hit;

/* An empty index for the embeddings of `model` (its config and video tower are recorded, so a search with
 * another model's embeddings is refused). The video tower's hash is read from the weights file, or computed
 * from its video weights (read for that, even by a text-only model) with a note to the log callback. */
FROST_API frost_status frost_index_create(frost_model* model, frost_index** index);
/* Reads an index file; FROST_BAD_FILE naming what is wrong with a damaged one. */
FROST_API frost_status frost_index_load(const char* path, frost_index** index);
/* Writes the index atomically: a crash leaves the previous file. */
FROST_API frost_status frost_index_save(frost_index* index, const char* path);
FROST_API void frost_index_free(frost_index* index);

FROST_API size_t frost_index_size(const frost_index* index);
FROST_API size_t frost_index_dim(const frost_index* index);
/* The name of the item at `row` (< frost_index_size), copied into `name` (capacity bytes) with its
 * terminating NUL; *length receives its length in bytes, without the NUL. name = NULL with capacity = 0
 * asks the length only (FROST_OK); a capacity of *length or less is FROST_INVALID_ARGUMENT (*length still
 * set). Rows (and a search's hits) name items as the index is at the time: another thread's add or remove
 * may renumber them. */
FROST_API frost_status frost_index_item(const frost_index* index, size_t row, char* name, size_t capacity,
                                        size_t* length);

/* Adds (or replaces) an item from an embedding of `dim` floats (the index's width). */
FROST_API frost_status frost_index_add(frost_index* index, const char* name, const float* embedding, size_t dim);
/* Encodes videos (as frost_encode_videos) with `model` — the index's model — and adds them, with each
 * file's size and modification time, as `frost index` does. All or nothing: when an input fails, an
 * embedding is not finite, or the progress callback cancels, nothing is added. The index stays readable by
 * other threads while the videos are encoded. */
FROST_API frost_status frost_index_add_videos(frost_index* index, frost_model* model, const char* const* paths,
                                              size_t count);
/* Removes the item `name`; *removed (may be NULL) is 1 if it was there, else 0. */
FROST_API frost_status frost_index_remove(frost_index* index, const char* name, int* removed);

/* The best min(k, size) items for a query embedding of `dim` floats, best first (ties: the lower row).
 * `hits` has room for k (at most k are written, whatever other threads add meanwhile); *count receives the
 * number written. */
FROST_API frost_status frost_index_search(frost_index* index, const float* query, size_t dim, size_t k,
                                          frost_hit* hits, size_t* count);
/* The same for a caption, encoded with `model`, which must be the index's model. */
FROST_API frost_status frost_index_search_text(frost_index* index, frost_model* model, const char* caption,
                                               size_t k, frost_hit* hits, size_t* count);

#ifdef __cplusplus
}
#endif

#endif /* FROST_FROST_H */
