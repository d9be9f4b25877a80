// `jizhan store`: the seller's side of the algorithm store (docs/STORE.md), over the API
// like every client command: the publisher key, listings and their versions, orders and
// their codes, revocation, offline activations; and the store front.
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/client_commands.h"
#include "cli/client_util.h"
#include "core/files.h"

namespace jz::cli {

void ClientCommands::store_commands(CLI::App& app) {
  auto* st = app.add_subcommand(
      "store",
      "The algorithm store: list tested algorithms for sale, sell activation codes, answer\n"
      "offline activations; browse the store front (docs/STORE.md)");
  st->require_subcommand(1);
  struct Opts {
    std::string project, name, version, file, key, tier, customer, code, reason, request, out,
        notes, query, tag;
    std::vector<std::string> evaluations;
    int64_t seats = 0;
    bool one_code = false;
  };
  auto o = std::make_shared<Opts>();
  auto base = [o] { return "/api/v1/projects/" + url_encode(o->project); };

  auto* front = leaf(*st, "browse", "The store front: listings you may see (-q words, --tag T)",
                     [o](const Common& c) {
                       return with_conn("store browse", c.server, true, [&](Conn& conn) -> Status {
                         std::string path = "/api/v1/store/listings?q=" + url_encode(o->query);
                         if (!o->tag.empty()) path += "&tag=" + url_encode(o->tag);
                         JZ_ASSIGN_OR_RETURN(Json items, list_all(*conn.api, path));
                         show_list(c.output, items,
                                   {{"PROJECT", "project"},
                                    {"NAME", "name"},
                                    {"TITLE", "title"},
                                    {"VISIBILITY", "visibility"},
                                    {"UPDATED", "updated_at"}});
                         return {};
                       });
                     });
  front->add_option("-q,--query", o->query, "Words to find in names, titles, descriptions, tags");
  front->add_option("--tag", o->tag, "Only listings with this tag");

  auto* pub = st->add_subcommand("publisher", "The project's publisher key (signs its licences)");
  pub->require_subcommand(1);
  auto* pset = leaf(
      *pub, "set",
      "Give the platform the key the project's packages are signed with (--key FILE.key), "
      "or let it make one (shown once: keep it to sign packages)",
      [o, base](const Common& c) {
        return with_conn("store publisher set", c.server, true, [&](Conn& conn) -> Status {
          Json body = Json::object();
          if (!o->key.empty()) {
            JZ_ASSIGN_OR_RETURN(std::string text, read_file(o->key));
            JZ_ASSIGN_OR_RETURN(body["signing_key"], json::parse(text, o->key));
          }
          JZ_ASSIGN_OR_RETURN(Json k, conn.api->call("PUT", base() + "/store/publisher", &body));
          if (k.contains("signing_key") && !o->out.empty()) {
            JZ_RETURN_IF_ERROR(write_file(o->out, k["signing_key"].dump(2) + "\n", 0600, true));
            k.erase("signing_key");
            std::cout << "the new signing key is in " << o->out << " (0600)\n";
          }
          show_object(c.output, k);
          return {};
        });
      });
  pset->add_option("project", o->project, "The project")->required();
  pset->add_option("--key", o->key, "A signing key file (`jizhan license keygen`)")
      ->check(CLI::ExistingFile);
  pset->add_option("--out", o->out, "With no --key: where to write the new key (0600)");
  auto* pshow = leaf(*pub, "show", "The publisher key's public half", [o, base](const Common& c) {
    return with_conn("store publisher show", c.server, true, [&](Conn& conn) -> Status {
      JZ_ASSIGN_OR_RETURN(Json k, conn.api->call("GET", base() + "/store/publisher"));
      show_object(c.output, k);
      return {};
    });
  });
  pshow->add_option("project", o->project, "The project")->required();

  auto* listing = st->add_subcommand("listing", "The project's listings");
  listing->require_subcommand(1);
  auto* put = leaf(
      *listing, "put",
      "Create or change a listing from a JSON file: {title, description, details, tiers, "
      "visibility, customers}",
      [o, base](const Common& c) {
        return with_conn("store listing put", c.server, true, [&](Conn& conn) -> Status {
          JZ_ASSIGN_OR_RETURN(std::string text, read_file(o->file));
          JZ_ASSIGN_OR_RETURN(Json body, json::parse(text, o->file));
          JZ_ASSIGN_OR_RETURN(
              Json l, conn.api->call("PUT", base() + "/listings/" + url_encode(o->name), &body));
          show_object(c.output, l);
          return {};
        });
      });
  put->add_option("project", o->project, "The project")->required();
  put->add_option("name", o->name, "The algorithm (its package name)")->required();
  put->add_option("--file", o->file, "The listing as JSON")->required()->check(CLI::ExistingFile);
  auto* lls = leaf(*listing, "list", "The project's listings", [o, base](const Common& c) {
    return with_conn("store listing list", c.server, true, [&](Conn& conn) -> Status {
      JZ_ASSIGN_OR_RETURN(Json items, list_all(*conn.api, base() + "/listings"));
      show_list(c.output, items,
                {{"NAME", "name"},
                 {"TITLE", "title"},
                 {"VISIBILITY", "visibility"},
                 {"VERSIONS", "versions"},
                 {"UPDATED", "updated_at"}});
      return {};
    });
  });
  lls->add_option("project", o->project, "The project")->required();
  auto* ver =
      leaf(*listing, "version",
           "List a version for sale: its uploaded package (ready, signed by the publisher key) and "
           "the evaluations it passed",
           [o, base](const Common& c) {
             return with_conn("store listing version", c.server, true, [&](Conn& conn) -> Status {
               Json body = {{"version", o->version}, {"evaluations", o->evaluations}};
               if (!o->notes.empty()) body["notes"] = o->notes;
               JZ_ASSIGN_OR_RETURN(
                   Json l,
                   conn.api->call("POST", base() + "/listings/" + url_encode(o->name) + "/versions",
                                  &body));
               if (c.output == "json") {
                 std::cout << l.dump(2) << "\n";
               } else {
                 std::cout << "listed " << o->name << " " << o->version << "\n";
               }
               return {};
             });
           });
  ver->add_option("project", o->project, "The project")->required();
  ver->add_option("name", o->name, "The algorithm")->required();
  ver->add_option("version", o->version, "The version")->required();
  ver->add_option("--evaluation", o->evaluations, "An evaluation it passed (repeatable)");
  ver->add_option("--notes", o->notes, "Release notes");

  auto* ord =
      leaf(*st, "order",
           "Sell a tier: activation codes for --seats machines (a code per seat; --one-code: one "
           "code for all)",
           [o, base](const Common& c) {
             return with_conn("store order", c.server, true, [&](Conn& conn) -> Status {
               Json body = {{"listing", o->name},
                            {"tier", o->tier},
                            {"customer", o->customer},
                            {"seats", o->seats},
                            {"codes_per", o->one_code ? "order" : "seat"}};
               JZ_ASSIGN_OR_RETURN(Json r, conn.api->call("POST", base() + "/orders", &body));
               if (c.output == "json") {
                 std::cout << r.dump(2) << "\n";
                 return {};
               }
               std::cout << "order " << r.value("id", "") << ": " << r.value("seats", 0)
                         << " seat(s) of " << o->name << " (" << o->tier << ") for " << o->customer
                         << ", until " << r.value("valid_until", "") << "\n";
               for (const auto& k : r.value("codes", Json::array())) {
                 std::cout << "  " << k.value("code", "") << "  " << k.value("seats", 0)
                           << " seat(s)  id " << k.value("id", "") << "\n";
               }
               return {};
             });
           });
  ord->add_option("project", o->project, "The project")->required();
  ord->add_option("name", o->name, "The algorithm")->required();
  ord->add_option("--tier", o->tier, "A tier of its listing")->required();
  ord->add_option("--customer", o->customer, "Who bought it")->required();
  ord->add_option("--seats", o->seats, "Machines")->required();
  ord->add_flag("--one-code", o->one_code, "One code for every seat");
  auto* ords =
      leaf(*st, "orders", "The project's orders and their codes", [o, base](const Common& c) {
        return with_conn("store orders", c.server, true, [&](Conn& conn) -> Status {
          JZ_ASSIGN_OR_RETURN(Json items, list_all(*conn.api, base() + "/orders"));
          show_list(c.output, items,
                    {{"ID", "id"},
                     {"LISTING", "listing"},
                     {"TIER", "tier"},
                     {"CUSTOMER", "customer"},
                     {"SEATS", "seats"},
                     {"UNTIL", "valid_until"},
                     {"CODES", "codes"}});
          return {};
        });
      });
  ords->add_option("project", o->project, "The project")->required();
  auto* rev = leaf(
      *st, "revoke", "Revoke an activation code (by its id, acd_...)", [o, base](const Common& c) {
        return with_conn("store revoke", c.server, true, [&](Conn& conn) -> Status {
          Json body = {{"reason", o->reason}};
          JZ_RETURN_IF_ERROR(
              conn.api->call("POST", base() + "/codes/" + url_encode(o->code) + "/revoke", &body)
                  .status());
          (void)c;
          std::cout << "revoked " << o->code << "\n";
          return {};
        });
      });
  rev->add_option("project", o->project, "The project")->required();
  rev->add_option("code", o->code, "The code's id (acd_...)")->required();
  rev->add_option("--reason", o->reason, "Shown to the customer's client");
  auto* acts = leaf(
      *st, "activations", "The machines a code activated, with their usage",
      [o, base](const Common& c) {
        return with_conn("store activations", c.server, true, [&](Conn& conn) -> Status {
          JZ_ASSIGN_OR_RETURN(
              Json items,
              conn.api->call("GET", base() + "/codes/" + url_encode(o->code) + "/activations"));
          show_list(c.output, items,
                    {{"FINGERPRINT", "fingerprint"},
                     {"LICENCE", "licence_id"},
                     {"VERSION", "version"},
                     {"ACTIVATED", "activated_at"},
                     {"RENEWED", "renewed_at"},
                     {"UNTIL", "valid_until"},
                     {"USAGE", "usage"}});
          return {};
        });
      });
  acts->add_option("project", o->project, "The project")->required();
  acts->add_option("code", o->code, "The code's id (acd_...)")->required();
  auto* off = leaf(
      *st, "activate-offline",
      "Answer a customer's offline activation request (from `jizhan client activate --offline`) "
      "with a licence file",
      [o, base](const Common& c) {
        return with_conn("store activate-offline", c.server, true, [&](Conn& conn) -> Status {
          JZ_ASSIGN_OR_RETURN(std::string request, read_file(o->request));
          Json body = {{"request", request}};
          JZ_ASSIGN_OR_RETURN(Json a,
                              conn.api->call("POST", base() + "/store/offline-activations", &body));
          JZ_RETURN_IF_ERROR(write_file(o->out, json::string_or(a, "licence"), 0644, true));
          (void)c;
          std::cout << "wrote licence " << a.value("licence_id", "") << " for "
                    << a.value("algorithm", "") << " (valid until " << a.value("valid_until", "")
                    << ") to " << o->out << "; send it with the package "
                    << a.value("algorithm", "") << " " << a.value("version", "") << "\n";
          return {};
        });
      });
  off->add_option("project", o->project, "The project")->required();
  off->add_option("request", o->request, "The request file")->required()->check(CLI::ExistingFile);
  off->add_option("--out", o->out, "Where to write the licence (.jzlic)")->required();
}

}  // namespace jz::cli
