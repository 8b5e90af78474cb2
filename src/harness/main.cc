// crisp: a thin main; everything is in the cli library.
#include <iostream>

#include "harness/cli/app.h"

int main(int argc, char** argv) {
  return crisp::cli::RunCrisp(argc, argv, std::cout, std::cerr);
}
