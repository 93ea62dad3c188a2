# Writes the MovieLens ratings that Debian's r-cran-dslabs package ships (dslabs::movielens: 100,004 ratings of
# 9,066 movies by 671 users, 0.5 to 5 stars, from GroupLens' ml-latest-small) as one row per movie:
#   text     "Title (year). Genre, Genre"       e.g. "Heat (1995). Action, Crime, Thriller"
#   rating   the movie's mean rating, rounded to 3 decimals (the number to predict)
#   ratings  how many ratings the mean is of
# Only movies with at least MIN_RATINGS ratings are kept (a mean of fewer is mostly noise). The split is fixed by the
# movie id: id mod 10 of 0 or 1 goes to test.csv, 2 to validation.csv, the rest to train.csv; each file is sorted
# by movie id, so the same package gives the same bytes.
# Usage: Rscript export-movie-ratings.R OUT_DIR [MIN_RATINGS]
args <- commandArgs(trailingOnly = TRUE)
out <- args[1]
min_ratings <- if (length(args) >= 2) as.integer(args[2]) else 10L
suppressPackageStartupMessages(library(dslabs))
data(movielens, package = "dslabs", envir = environment())
m <- movielens[!is.na(movielens$title) & !is.na(movielens$year), ]
n <- tapply(m$rating, m$movieId, length)
mean_rating <- tapply(m$rating, m$movieId, mean)
first <- m[!duplicated(m$movieId), c("movieId", "title", "year", "genres")]
first <- first[order(first$movieId), ]
id <- as.character(first$movieId)
genres <- gsub("|", ", ", as.character(first$genres), fixed = TRUE)
genres[genres == "(no genres listed)"] <- ""
movies <- data.frame(
  movieId = first$movieId,
  text = ifelse(genres == "", sprintf("%s (%d).", first$title, first$year),
                sprintf("%s (%d). %s", first$title, first$year, genres)),
  rating = sprintf("%.3f", mean_rating[id]),
  ratings = as.integer(n[id]),
  stringsAsFactors = FALSE)
movies <- movies[movies$ratings >= min_ratings, ]
dir.create(out, recursive = TRUE, showWarnings = FALSE)
quote <- function(s) paste0('"', gsub('"', '""', s, fixed = TRUE), '"')
save <- function(d, name) {
  # CSV by hand, bytes as they are (the titles are UTF-8 whatever the locale); written beside the target and
  # renamed, so a build never reads a half-written file.
  tmp <- file.path(out, paste0(".", name, ".tmp"))
  con <- file(tmp, "wb")
  writeLines(c("movieId,text,rating,ratings", paste(d$movieId, quote(d$text), d$rating, d$ratings, sep = ",")),
             con, sep = "\n", useBytes = TRUE)
  close(con)
  file.rename(tmp, file.path(out, name))
}
bucket <- movies$movieId %% 10
invisible(save(movies[bucket >= 3, ], "train.csv"))
invisible(save(movies[bucket == 2, ], "validation.csv"))
invisible(save(movies[bucket <= 1, ], "test.csv"))
cat(sprintf("movie ratings: %d movies with at least %d ratings: %d train, %d validation, %d test rows in %s\n",
            nrow(movies), min_ratings, sum(bucket >= 3), sum(bucket == 2), sum(bucket <= 1), out))
