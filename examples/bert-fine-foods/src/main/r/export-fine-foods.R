# Writes the Amazon Fine Food reviews that Debian's r-cran-modeldata package ships (modeldata::small_fine_foods,
# from McAuley and Leskovec's SNAP collection: review text, score "great" for 5 stars or "other") as CSV files:
#   train.csv       the first TRAIN rows of training_data, less the validation rows
#   validation.csv  every tenth of those rows (a fixed, reproducible hold-out)
#   test.csv        the first TEST rows of testing_data
# Usage: Rscript export-fine-foods.R OUT_DIR [TRAIN] [TEST]
args <- commandArgs(trailingOnly = TRUE)
out <- args[1]
n_train <- if (length(args) >= 2) as.integer(args[2]) else 1000L
n_test <- if (length(args) >= 3) as.integer(args[3]) else 1000L
suppressPackageStartupMessages(library(modeldata))
data(small_fine_foods, package = "modeldata", envir = environment())
dir.create(out, recursive = TRUE, showWarnings = FALSE)
pick <- function(d, n) data.frame(review = d$review[seq_len(n)], score = as.character(d$score[seq_len(n)]))
train <- pick(training_data, min(n_train, nrow(training_data)))
held <- seq_len(nrow(train)) %% 10 == 0
save <- function(d, name) {
  # Written beside the target and renamed, so a build never reads a half-written file.
  tmp <- file.path(out, paste0(".", name, ".tmp"))
  write.csv(d, tmp, row.names = FALSE, fileEncoding = "UTF-8")
  file.rename(tmp, file.path(out, name))
}
invisible(save(train[!held, ], "train.csv"))
invisible(save(train[held, ], "validation.csv"))
invisible(save(pick(testing_data, min(n_test, nrow(testing_data))), "test.csv"))
cat(sprintf("fine foods: %d train, %d validation, %d test rows in %s\n", sum(!held), sum(held), min(n_test, nrow(testing_data)), out))
