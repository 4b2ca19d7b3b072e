/*
 * peft_format: LoRA and IA3 adapters in the Hugging Face PEFT layout (METHODS.md §8.1),
 * for a *ForSequenceClassification model (task_type "SEQ_CLS"):
 *
 *   DIR/adapter_config.json        peft_type "LORA" | "IA3", r, lora_alpha, lora_dropout,
 *                                  use_rslora, target_modules, feedforward_modules (IA3),
 *                                  modules_to_save ["classifier"], ...
 *   DIR/adapter_model.safetensors  F32 tensors:
 *     base_model.model.bert.encoder.layer.{i}.<module>.lora_A.weight   (R, IN)
 *     base_model.model.bert.encoder.layer.{i}.<module>.lora_B.weight   (OUT, R)
 *     base_model.model.bert.encoder.layer.{i}.<module>.ia3_l           (OUT, 1) output scaling
 *     base_model.model.bert.encoder.layer.{i}.output.dense.ia3_l       (1, F)   ffn_act
 *     base_model.model.classifier.weight / .bias                       the task head
 *   ("roberta." instead of "bert." and classifier.dense.* / classifier.out_proj.* for RoBERTa.)
 *
 * target_modules use PEFT's suffix match (a module matches an entry if its name equals
 * it or ends with "." + entry; IA3's feedforward_modules match by plain suffix).  The
 * BERT module "output.dense" is a suffix of "attention.output.dense" too, so a plain
 * "output.dense" entry would also adapt the attention output projection (PEFT's IA3
 * BERT default does exactly that, scaling its input).  peft_save therefore names the
 * FFN output Linear per layer, "layer.{i}.output.dense", which matches nothing else;
 * peft_load follows PEFT's rule for whatever entries it reads.
 */
#ifndef METHODS_PEFT_FORMAT_H
#define METHODS_PEFT_FORMAT_H

#include <stdint.h>

#include "methods/method.h"
#include "model/arch/hooks.h"

#define PEFT_CONFIG_NAME  "adapter_config.json"
#define PEFT_WEIGHTS_NAME "adapter_model.safetensors"
#define PEFT_MAX_JSON     ((size_t)1 << 20) /* adapter_config.json size limit */

/* HF module path of a linear site inside "encoder.layer.{i}.": "attention.self.query",
 * "attention.self.key", "attention.self.value", "attention.output.dense",
 * "intermediate.dense", "output.dense" (SITE_FFN_ACT = SITE_FFN_OUT); "?" otherwise. */
const char *peft_site_module(enum hook_site s);

/* Write DIR/adapter_config.json and DIR/adapter_model.safetensors for the lora or ia3
 * instance mi created on m (creates DIR; each file written to a temporary, fsynced and
 * renamed).  The task head is saved as modules_to_save.  Errors: ERR_UNSUPPORTED (another
 * method), ERR_STATE (a tensor of mi missing from m), ERR_IO, ERR_NOMEM. */
int peft_save(const char *dir, const struct method_inst *mi, const struct model *m, struct err *e);

/* peft_save with base_model_name_or_path = base_model (NULL: ""), the backbone PEFT's
 * AutoPeftModel* classes load before the adapter. */
int peft_save_with_base(const char *dir, const struct method_inst *mi, const struct model *m,
                        const char *base_model, struct err *e);

/* *C = the number of outputs of the task head saved in DIR/adapter_model.safetensors
 * (rows of base_model.model.classifier.weight, or of classifier.out_proj.weight for
 * RoBERTa), reading no other tensor.  No head tensor: ERR_UNSUPPORTED (predictions would
 * come from an untrained head); a head that is not a matrix: ERR_FORMAT. */
int peft_head_width(const char *dir, int *C, struct err *e);

/* Read DIR/adapter_config.json, validate it (messages name the file, the field, what was
 * expected and what was found), create the matching lora or ia3 instance on m through
 * the registry (*out, seed for anything the file does not set) and fill its tensors and
 * the task head from DIR/adapter_model.safetensors by name, checking every shape.  A
 * tensor the config does not account for, or a missing one, is an error naming it.
 * On failure *out is zeroed and m's hooks are as before the call (tensors already
 * registered in m's store cannot be removed: discard m).  Errors: ERR_IO, ERR_FORMAT
 * (malformed JSON, a field of the wrong JSON type, bad tensors), ERR_UNSUPPORTED (a PEFT
 * feature peftbench does not implement), ERR_CONFIG / ERR_RANGE (hyperparameters),
 * ERR_LIMIT, ERR_NOMEM. */
int peft_load(const char *dir, struct model *m, struct method_inst *out, uint64_t seed,
              struct err *e);

#endif
