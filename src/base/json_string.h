// JSON string literals, written the way Go's encoding/json writes them.
#pragma once

#include <string>
#include <string_view>

namespace vigil {

// Appends `s` as a quoted JSON string: `"` and `\` escaped, \n \r \t by name, other control
// characters as \u00XX. With `html_safe` (encoding/json's default, and Prometheus's API
// output) `<`, `>` and `&` become \u003c \u003e \u0026 and U+2028/U+2029 are escaped too, so
// the text is safe inside HTML and JavaScript. Bytes are otherwise copied as they are.
void AppendJsonString(std::string* out, std::string_view s, bool html_safe = true);

}  // namespace vigil
