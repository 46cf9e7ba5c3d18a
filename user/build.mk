# SPDX-License-Identifier: MIT
# Build rules for user/ (included by the top-level Makefile).
