// Package train trains audio-visual classifiers from feature shards:
// batches from memory-mapped shards, gorgonia models (a small CNN or
// ResNet-18 per modality, a fusion head), balancing methods, metrics,
// checkpoints and attribution reports.
//
// # Methods
//
// A mode is a unimodal baseline ("audio", "video") or a fusion method, and
// every mode is registered once (RegisterMethod) with a MethodInfo: its
// summary (for --help and the README), the encoders it uses, its own
// hyperparameters (a MethodConfig, whose flags the CLI binds and which
// config.json records beside the run's other settings) and a constructor of
// its Method. A Method says what it adds to a training step, by hooks:
//
//   - Loss adds terms to the training graph's loss (attr-reg's penalty);
//   - BeforeStep sets the method's own graph inputs for a batch;
//   - AfterBackward changes gradients before the optimizer (OGM-GE);
//   - StartEpoch and EndEpoch follow a per-epoch schedule;
//   - Report completes the metrics of a pass; State and SetState go into
//     checkpoints, so a resumed run ends as an uninterrupted one;
//   - Prepare runs before training, with the run's data (Prep): to train
//     other runs on it and embed with them (UMT's teachers).
//
// Graph gives a method more than the loss's inputs: the head applied to
// other embeddings and its per-modality parts (MMPareto's unimodal logits,
// AGM's padded logits), and encoder replicas — a second copy of an encoder
// whose parameter nodes share the model's tensors, so that the gradient of
// a loss through it arrives apart (Step.ReplicaGrads) from the gradient
// through the primary encoder, from the one gradient call a graph has. An
// epoch hook can embed a sample of the train split with the current
// weights (Epoch.TrainEmbeddings, PMR's prototypes).
//
// A new method is one file: its config type, its Method type (embedding
// NoHooks) and an init that registers it.
//
// # Training
//
// One batch loop (eachBatch) serves training, evaluation and attribution:
// it streams rows through the loader, and a pass that a cancelled context
// cut short is an error, never a result. A training step runs the method's
// BeforeStep, the graph forward and backward (mean cross-entropy plus the
// method's term, one first-order Grad call for everything), the method's
// AfterBackward and the optimizer. After every epoch the val split is
// evaluated, metrics.jsonl gets a train and a val line, and checkpoint.bin
// (and best.bin when val accuracy improved) is written.
//
// # Shares and probes
//
// Every fusion run's metrics measure modality shares the same way, so
// methods can be compared: Grad×Input on the embeddings of the true (or
// predicted) class's logit, pooled with L2 (or L1), normalised to sum to 1.
// attr-reg pulls these shares toward Config.Target. The unimodal probe of
// branch m inside a fusion model is the accuracy of the head with the other
// modality's embedding set to zero.
//
// # Layouts
//
// Audio batches are [B,1,F,T]; frames are folded into the batch as
// [B·N,3,H,W] float32 normalised with the ImageNet mean and std, and the
// video embedding is the mean over a clip's N frame embeddings. The
// convolutions and ReLUs are package op's.
//
// # Run folder
//
// config.json, metrics.jsonl (one JSON object per epoch and split; see
// ReadMetrics), checkpoint.bin (last epoch), best.bin (best validation
// accuracy) and result.json (val and test metrics of best.bin; see
// ReadResult).
package train
