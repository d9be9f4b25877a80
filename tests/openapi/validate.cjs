// node validate.cjs FILE: exit 0 when FILE is a valid OpenAPI 3.0 document (schema and
// references, by @apidevtools/swagger-parser), 1 naming the first problem otherwise.
const SwaggerParser = require("@apidevtools/swagger-parser");

const file = process.argv[2];
if (!file) {
  console.error("usage: node validate.cjs OPENAPI.json");
  process.exit(2);
}
SwaggerParser.validate(file)
  .then((api) => {
    console.log(`openapi: valid OpenAPI ${api.openapi}, ${Object.keys(api.paths).length} paths`);
  })
  .catch((err) => {
    console.error(`openapi: ${file} is not a valid OpenAPI 3.0 document: ${err.message}`);
    process.exit(1);
  });
