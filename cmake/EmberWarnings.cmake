# Warnings: -Wall -Wextra everywhere; -Werror unless EMBER_WERROR=OFF.
add_compile_options(-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
                    -Wno-unused-parameter)
if(EMBER_WERROR)
  add_compile_options(-Werror)
endif()
