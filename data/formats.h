// Annotation formats (mission G1): COCO, Pascal VOC, YOLO and our per-image JSON, read and
// written through one model, so that any of them converts to any other. Each reader's
// errors name the file (`what`) and the field; each format keeps what it can hold:
//
//   format          holds                                      coordinates
//   COCO            images (file, size), boxes, polygons       [x, y, width, height], pixels
//                   (segmentation), attributes, categories
//   Pascal VOC      one image: file, size, boxes               xmin ymin xmax ymax, 1-based,
//                                                              inclusive (VOC's convention)
//   YOLO            one image's boxes (+ the class list)       class cx cy w h, 0..1 of the
//                                                              image (its size from the image)
//   image JSON      everything, tags included                  as the model
//
// The model's boxes are in pixels from the top-left corner of the image, 0-based: a box
// covering the pixels 10..19 has x = 10, width = 10 (VOC: xmin 11, xmax 20). Boxes on whole
// pixels come back to the pixel through every format (docs/DATA.md).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace jz::data {

// A box; a polygon's box is its bounding box, and its points are kept beside it.
struct Box {
  std::string category;
  double x = 0, y = 0, width = 0, height = 0;
  std::vector<double> polygon;                    // x1, y1, x2, y2, ... (empty: a box)
  std::map<std::string, std::string> attributes;  // e.g. occluded: yes
  bool operator==(const Box&) const = default;
};

struct AnnotatedImage {
  std::string file;  // its path inside the dataset, '/'-separated
  int width = 0, height = 0;
  std::vector<Box> boxes;
  std::vector<std::string> tags;  // coarse, image-level (only the image JSON holds them)
  bool operator==(const AnnotatedImage&) const = default;
};

struct Annotations {
  std::vector<std::string> categories;  // COCO ids 1.., YOLO indexes 0.., in this order
  std::vector<AnnotatedImage> images;
};

// COCO's detection JSON ("images", "annotations", "categories"; other members ignored).
Result<Annotations> read_coco(std::string_view text, const std::string& what);
std::string write_coco(const Annotations& a);

// One Pascal VOC annotation XML. New category names are appended to `categories`.
Result<AnnotatedImage> read_voc(std::string_view text, const std::string& what,
                                std::vector<std::string>& categories);
std::string write_voc(const AnnotatedImage& image);

// One YOLO label file for an image of `width` x `height` pixels, its class indexes into
// `categories` (classes.txt: one name a line, read_class_list).
Result<std::vector<Box>> read_yolo(std::string_view text, const std::string& what,
                                   const std::vector<std::string>& categories, int width,
                                   int height);
std::string write_yolo(const AnnotatedImage& image, const std::vector<std::string>& categories);
Result<std::vector<std::string>> read_class_list(std::string_view text, const std::string& what);
std::string write_class_list(const std::vector<std::string>& categories);

// Our per-image JSON: {"file", "width", "height", "tags": [...], "boxes": [{"category",
// "x", "y", "width", "height", "polygon": [x1, y1, ...], "attributes": {NAME: VALUE}}]}
// (polygon and attributes only when a box has them).
Result<AnnotatedImage> read_image_json(std::string_view text, const std::string& what);
std::string write_image_json(const AnnotatedImage& image);

}  // namespace jz::data
