# Turns INPUT into a C file defining ark_default_rules[] and its length.
file(READ ${INPUT} content HEX)
string(LENGTH "${content}" hex_length)
math(EXPR length "${hex_length} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${content}")
file(WRITE ${OUTPUT} "/* Generated from deploy/graveyard.rules: do not edit. */\n"
     "const unsigned char ark_default_rules[] = {${bytes}};\n"
     "const unsigned int ark_default_rules_length = ${length};\n")
