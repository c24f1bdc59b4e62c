// The `frost` subcommands. Each adds itself to the CLI11 app; main.cpp dispatches.
#pragma once

namespace CLI {
class App;
}

namespace frost::cli {

void add_demo_command(CLI::App& app);  // frost demo: build, differentiate, compile and train a small graph
void add_ops_command(CLI::App& app);   // frost ops: the op registry, one row per op
void add_info_command(CLI::App& app);  // frost info FILE: what a safetensors file or PyTorch checkpoint holds
void add_convert_command(CLI::App& app);  // frost convert CKPT.pth.tar OUT.safetensors: its weights
void add_clip_command(CLI::App& app);     // frost clip VIDEO... --out F: sampled, preprocessed clips
void add_encode_command(CLI::App& app);   // frost encode text|video|image ...: embeddings
void add_plan_command(CLI::App& app);     // frost plan --config base --batch 8 ...: the memory plan
void add_score_command(CLI::App& app);    // frost score --video V CAPTION...: one clip against captions
void add_index_command(CLI::App& app);    // frost index --out INDEX PATH...: embeddings for search
void add_search_command(CLI::App& app);   // frost search --index INDEX QUERY...: top k by cosine
// frost eval --data TEST.csv: retrieval metrics of a checkpoint
void add_eval_command(CLI::App& app);
// frost train --data TRAIN.csv --out DIR: train the dual encoder
void add_train_command(CLI::App& app);
// frost synthetic --out DIR: the synthetic video-caption set
void add_synthetic_command(CLI::App& app);

}  // namespace frost::cli
