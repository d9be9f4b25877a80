#include "data/formats.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>

namespace jz::data {
namespace {

// A generated dataset: images of many sizes, boxes on whole pixels anywhere in them
// (edges included), categories with spaces and XML's special characters.
Annotations generated(uint64_t seed) {
  std::mt19937_64 rng(seed);
  Annotations a;
  a.categories = {"person", "car", "traffic light", "R&D <prototype>", "dog"};
  for (int i = 0; i < 60; ++i) {
    AnnotatedImage img;
    img.file = "part" + std::to_string(i % 3) + "/img" + std::to_string(i) + ".jpg";
    img.width = 64 + static_cast<int>(rng() % 4000);
    img.height = 48 + static_cast<int>(rng() % 3000);
    for (int b = static_cast<int>(rng() % 9); b > 0; --b) {
      const int w = 1 + static_cast<int>(rng() % static_cast<uint64_t>(img.width));
      const int h = 1 + static_cast<int>(rng() % static_cast<uint64_t>(img.height));
      img.boxes.push_back({a.categories[rng() % a.categories.size()],
                           static_cast<double>(rng() % static_cast<uint64_t>(img.width - w + 1)),
                           static_cast<double>(rng() % static_cast<uint64_t>(img.height - h + 1)),
                           static_cast<double>(w), static_cast<double>(h)});
    }
    a.images.push_back(std::move(img));
  }
  return a;
}

void expect_same_to_the_pixel(const Annotations& want, const Annotations& got) {
  ASSERT_EQ(got.images.size(), want.images.size());
  for (size_t i = 0; i < want.images.size(); ++i) {
    const auto& w = want.images[i];
    const auto& g = got.images[i];
    EXPECT_EQ(g.file, w.file);
    EXPECT_EQ(g.width, w.width);
    EXPECT_EQ(g.height, w.height);
    ASSERT_EQ(g.boxes.size(), w.boxes.size()) << w.file;
    for (size_t b = 0; b < w.boxes.size(); ++b) {
      EXPECT_EQ(g.boxes[b].category, w.boxes[b].category);
      EXPECT_EQ(std::lround(g.boxes[b].x), std::lround(w.boxes[b].x)) << w.file << " box " << b;
      EXPECT_EQ(std::lround(g.boxes[b].y), std::lround(w.boxes[b].y)) << w.file << " box " << b;
      EXPECT_EQ(std::lround(g.boxes[b].width), std::lround(w.boxes[b].width)) << w.file;
      EXPECT_EQ(std::lround(g.boxes[b].height), std::lround(w.boxes[b].height)) << w.file;
      EXPECT_NEAR(g.boxes[b].x, w.boxes[b].x, 0.01);
      EXPECT_NEAR(g.boxes[b].width, w.boxes[b].width, 0.01);
    }
  }
}

// COCO -> VOC -> YOLO -> COCO keeps every box to the pixel (the issue's acceptance).
TEST(Formats, CocoToVocToYoloToCocoKeepsEveryBoxToThePixel) {
  for (uint64_t seed : {1, 2, 3}) {
    const Annotations original = generated(seed);
    auto coco = read_coco(write_coco(original), "instances.json");
    ASSERT_TRUE(coco.ok()) << coco.status().message();
    EXPECT_EQ(coco->categories, original.categories);
    // VOC: a file per image; the categories in the order they are first seen.
    Annotations voc;
    for (const auto& img : coco->images) {
      auto back = read_voc(write_voc(img), img.file + ".xml", voc.categories);
      ASSERT_TRUE(back.ok()) << back.status().message() << "\n" << write_voc(img);
      voc.images.push_back(*back);
    }
    // YOLO: a label file per image and the class list; sizes come from the images.
    auto classes = read_class_list(write_class_list(voc.categories), "classes.txt");
    ASSERT_TRUE(classes.ok()) << classes.status().message();
    Annotations yolo;
    yolo.categories = *classes;
    for (const auto& img : voc.images) {
      auto boxes =
          read_yolo(write_yolo(img, *classes), "labels.txt", *classes, img.width, img.height);
      ASSERT_TRUE(boxes.ok()) << boxes.status().message();
      yolo.images.push_back({img.file, img.width, img.height, *boxes, {}});
    }
    auto again = read_coco(write_coco(yolo), "again.json");
    ASSERT_TRUE(again.ok()) << again.status().message();
    expect_same_to_the_pixel(original, *again);
  }
}

// Each format's convention, from files as other tools write them.
TEST(Formats, EachFormatsCoordinatesMeanWhatItsToolsMean) {
  std::vector<std::string> cats;
  auto voc = read_voc(R"(<?xml version="1.0"?>
<annotation><folder>VOC2007</folder><filename>000005.jpg</filename>
  <size><width>500</width><height>375</height><depth>3</depth></size>
  <object><name>chair</name><pose>Rear</pose><truncated>0</truncated><difficult>0</difficult>
    <bndbox><xmin>11</xmin><ymin>21</ymin><xmax>20</xmax><ymax>40</ymax></bndbox></object>
</annotation>)",
                      "000005.xml", cats);
  ASSERT_TRUE(voc.ok()) << voc.status().message();
  EXPECT_EQ(voc->file, "000005.jpg") << "the folder names the dataset, not a path";
  EXPECT_EQ(voc->boxes[0], (Box{"chair", 10, 20, 10, 20})) << "1-based, inclusive";
  auto yolo = read_yolo("0 0.25 0.5 0.1 0.2\n", "l.txt", {"chair"}, 200, 100);
  ASSERT_TRUE(yolo.ok());
  EXPECT_EQ((*yolo)[0], (Box{"chair", 40, 40, 20, 20})) << "centre and size, fractions";
  EXPECT_EQ(write_yolo({"a.jpg", 200, 100, {{"chair", 40, 40, 20, 20}}, {}}, {"chair"}),
            "0 0.25000000 0.50000000 0.10000000 0.20000000\n");
  auto coco = read_coco(R"({"images":[{"id":7,"file_name":"a.jpg","width":100,"height":80}],
      "categories":[{"id":18,"name":"dog"},{"id":1,"name":"person"}],
      "annotations":[{"id":1,"image_id":7,"category_id":18,"bbox":[1.5,2,30,40.25]}]})",
                        "c.json");
  ASSERT_TRUE(coco.ok()) << coco.status().message();
  EXPECT_EQ(coco->categories, (std::vector<std::string>{"person", "dog"})) << "by id";
  EXPECT_EQ(coco->images[0].boxes[0], (Box{"dog", 1.5, 2, 30, 40.25}));
}

TEST(Formats, TheImageJsonKeepsEverythingExactly) {
  AnnotatedImage img{"a/b c.png",
                     640,
                     480,
                     {{"car", 0.5, 1.25, 10, 20}, {"dog", 0, 0, 640, 480}},
                     {"night", "rain"}};
  auto back = read_image_json(write_image_json(img), "b.json");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, img);
  // VOC keeps fractional pixels to a millionth.
  std::vector<std::string> cats;
  auto voc = read_voc(write_voc(img), "b.xml", cats);
  ASSERT_TRUE(voc.ok()) << voc.status().message();
  EXPECT_NEAR(voc->boxes[0].x, 0.5, 1e-6);
  EXPECT_NEAR(voc->boxes[0].y, 1.25, 1e-6);
  EXPECT_EQ(cats, (std::vector<std::string>{"car", "dog"}));
}

// Labelling exports polygons and attributes: COCO keeps them (segmentation, attributes)
// and so does the image JSON; VOC and YOLO keep the polygon's box.
TEST(Formats, PolygonsAndAttributesSurviveCocoAndTheImageJson) {
  Box tri{"roof", 10, 5, 20, 15, {10, 20, 30, 20, 20, 5}, {{"occluded", "no"}}};
  Annotations a{{"roof"}, {{"h/1.jpg", 64, 48, {tri, {"roof", 1, 2, 3, 4}}, {}}}};
  auto coco = read_coco(write_coco(a), "c.json");
  ASSERT_TRUE(coco.ok()) << coco.status().message();
  ASSERT_EQ(coco->images.size(), 1u);
  EXPECT_EQ(coco->images[0].boxes, a.images[0].boxes);
  EXPECT_NE(write_coco(a).find("\"area\": 150"), std::string::npos) << "the polygon's area";
  auto one = read_image_json(write_image_json(a.images[0]), "i.json");
  ASSERT_TRUE(one.ok()) << one.status().message();
  EXPECT_EQ(*one, a.images[0]);
  std::vector<std::string> cats;
  auto voc = read_voc(write_voc(a.images[0]), "v.xml", cats);
  ASSERT_TRUE(voc.ok()) << voc.status().message();
  EXPECT_EQ(voc->boxes[0], (Box{"roof", 10, 5, 20, 15})) << "VOC holds the box only";

  auto bad = read_coco(R"({"images":[{"id":1,"file_name":"a","width":9,"height":9}],
      "categories":[{"id":1,"name":"x"}],
      "annotations":[{"image_id":1,"category_id":1,"bbox":[0,0,1,1],
                      "segmentation":[[0,0,1,1]]}]})",
                       "c.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("annotations[0].segmentation[0]: must be a list of 3"),
            std::string::npos)
      << bad.status().message();
  auto outside = read_image_json(R"({"file":"a","width":9,"height":9,
      "boxes":[{"category":"x","x":0,"y":0,"width":1,"height":1,"polygon":[0,0,50,0,0,5]}]})",
                                 "i.json");
  ASSERT_FALSE(outside.ok());
  EXPECT_NE(outside.status().message().find("boxes[0].polygon: the box"), std::string::npos)
      << outside.status().message();
  auto attr = read_image_json(R"({"file":"a","width":9,"height":9,
      "boxes":[{"category":"x","x":0,"y":0,"width":1,"height":1,"attributes":{"k":1}}]})",
                              "i.json");
  ASSERT_FALSE(attr.ok());
  EXPECT_NE(attr.status().message().find("boxes[0].attributes.k: must be a string"),
            std::string::npos)
      << attr.status().message();
}

// Each malformed input is refused naming the file and the field.
TEST(Formats, MalformedFilesNameTheFileAndTheField) {
  const std::string coco_ok =
      R"({"images":[{"id":1,"file_name":"a.jpg","width":100,"height":50}],
          "categories":[{"id":3,"name":"car"}],
          "annotations":[{"id":1,"image_id":1,"category_id":3,"bbox":[1,2,3,4]}]})";
  ASSERT_TRUE(read_coco(coco_ok, "c.json").ok());
  const struct {
    std::function<Status()> read;
    const char* needle;
  } cases[] = {
      {[] { return read_coco("{", "c.json").status(); }, "c.json"},
      {[] { return read_coco("[]", "c.json").status(); }, "c.json: COCO is a JSON object"},
      {[] { return read_coco(R"({"images": {}})", "c.json").status(); },
       "c.json: images: must be a list"},
      {[] {
         return read_coco(R"({"images":[{"id":1,"file_name":"a.jpg","width":0,"height":5}]})",
                          "c.json")
             .status();
       },
       "c.json: images[0]: the image size 0x5"},
      {[] {
         return read_coco(R"({"images":[{"id":1,"file_name":"../x.jpg","width":5,"height":5}]})",
                          "c.json")
             .status();
       },
       "images[0].file_name: '../x.jpg' must be a path inside the dataset"},
      {[] {
         return read_coco(R"({"images":[{"id":1,"file_name":"a","width":9,"height":9}],
             "categories":[{"id":1,"name":"x"}],
             "annotations":[{"image_id":2,"category_id":1,"bbox":[0,0,1,1]}]})",
                          "c.json")
             .status();
       },
       "c.json: annotations[0].image_id: no image has id 2"},
      {[] {
         return read_coco(R"({"images":[{"id":1,"file_name":"a","width":9,"height":9}],
             "categories":[{"id":1,"name":"x"}],
             "annotations":[{"image_id":1,"category_id":1,"bbox":[0,0,1]}]})",
                          "c.json")
             .status();
       },
       "c.json: annotations[0].bbox: must be 4 numbers"},
      {[] {
         return read_coco(R"({"images":[{"id":1,"file_name":"a","width":9,"height":9}],
             "categories":[{"id":1,"name":"x"}],
             "annotations":[{"image_id":1,"category_id":1,"bbox":[5,5,20,1]}]})",
                          "c.json")
             .status();
       },
       "annotations[0].bbox: the box (5, 5, 20 x 1) lies outside its 9x9 image"},
      {[] {
         return read_coco(R"({"categories":[{"id":1,"name":"x"},{"id":1,"name":"y"}]})", "c.json")
             .status();
       },
       "categories[1].id: category id 1 is used twice"},
      {[] {
         std::vector<std::string> c;
         return read_voc("<annotation><filename>a.jpg", "v.xml", c).status();
       },
       "v.xml: not XML (line 1"},
      {[] {
         std::vector<std::string> c;
         return read_voc("<root/>", "v.xml", c).status();
       },
       "v.xml: <root>: the root element must be <annotation>"},
      // Found by fuzz_voc: a control character in a name cannot be written back as XML.
      {[] {
         std::vector<std::string> c;
         return read_voc("<annotation><filename>a\x15.jpg</filename></annotation>", "v.xml", c)
             .status();
       },
       "filename: a file name must not hold control characters"},
      {[] {
         std::vector<std::string> c;
         return read_voc("<annotation><filename>a.jpg</filename></annotation>", "v.xml", c)
             .status();
       },
       "v.xml: size: missing"},
      {[] {
         std::vector<std::string> c;
         return read_voc(
                    "<annotation><filename>a.jpg</filename><size><width>9</width><height>9</height>"
                    "</size><object><name>x</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>abc"
                    "</xmax><ymax>2</ymax></bndbox></object></annotation>",
                    "v.xml", c)
             .status();
       },
       "v.xml: object[0].bndbox.xmax: 'abc' is not a number"},
      {[] {
         std::vector<std::string> c;  // found by fuzz_voc: a size beyond any integer
         return read_voc(
                    "<annotation><filename>a.jpg</filename><size><width>500</width>"
                    "<height>1e30</height></size></annotation>",
                    "v.xml", c)
             .status();
       },
       "v.xml: size: the image size 500x1e+30 is not 1 to 100000 pixels a side"},
      {[] {
         std::vector<std::string> c;
         return read_voc(
                    "<annotation><filename>a.jpg</filename><size><width>9</width><height>9</height>"
                    "</size><object><name>x</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>1e300"
                    "</xmax><ymax>2</ymax></bndbox></object></annotation>",
                    "v.xml", c)
             .status();
       },
       "v.xml: object[0].bndbox: the box (0, 0, 1e+300 x 2) lies outside its 9x9 image"},
      {[] { return read_yolo("0 0.5 0.5 0.1", "l.txt", {"a"}, 10, 10).status(); },
       "l.txt: line 1: 4 values; a box is 5"},
      {[] {
         return read_yolo("\n3 0.5 0.5 0.1 0.1", "l.txt", {"a", "b"}, 10, 10).status();
       },
       "l.txt: line 2 class: '3' is not a class index: the class list has 2 (0 to 1)"},
      {[] { return read_yolo("0 0.5 1.5 0.1 0.1", "l.txt", {"a"}, 10, 10).status(); },
       "l.txt: line 1 cy: '1.5' is outside 0..1"},
      {[] {  // found by fuzz_yolo: a box no format can write back
         return read_yolo("0 0.5 0.5 0.2 1e-20", "l.txt", {"a"}, 10, 10).status();
       },
       "l.txt: line 1: the box is 2 x 0 pixels: it must be at least 0.01 pixel in both"},
      {[] { return read_yolo("0 0.5 0.5 0 0.1", "l.txt", {"a"}, 10, 10).status(); },
       "l.txt: line 1: the box is 0 x 1 pixels"},
      {[] { return read_class_list("a\n\nb\n", "classes.txt").status(); },
       "classes.txt: line 2: an empty class name"},
      {[] { return read_class_list("a\nb\na\n", "classes.txt").status(); },
       "classes.txt: line 3: class 'a' is listed twice"},
      {[] {
         return read_image_json(R"({"file":"a","width":5,"height":5,"box":[]})", "i.json").status();
       },
       "i.json: "},
      {[] {
         return read_image_json(
                    R"({"file":"a","width":5,"height":5,"boxes":[{"category":"","x":0,"y":0,"width":1,"height":1}]})",
                    "i.json")
             .status();
       },
       "i.json: boxes[0].category: a category is a name"},
      {[] {
         return read_image_json(
                    R"({"file":"a","width":5,"height":5,"boxes":[{"category":"c","x":"0","y":0,"width":1,"height":1}]})",
                    "i.json")
             .status();
       },
       "i.json: boxes[0].x: must be a number"},
  };
  for (const auto& c : cases) {
    const Status s = c.read();
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << c.needle;
    EXPECT_NE(s.message().find(c.needle), std::string::npos) << s.message();
  }
  // Blank lines and a trailing newline are fine; an empty label file is an image with none.
  EXPECT_EQ(read_class_list("a\nb\n\n", "classes.txt")->size(), 2u);
  EXPECT_TRUE(read_yolo("", "l.txt", {"a"}, 10, 10)->empty());
}

}  // namespace
}  // namespace jz::data
