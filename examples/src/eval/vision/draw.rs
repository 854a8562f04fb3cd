//! The vision suite's pictures, drawn by code so their content is known exactly: coloured
//! squares and circles on a grid, and digits drawn as seven-segment displays.

use image::{Rgb, RgbImage};

/// Width and height of every picture, in pixels.
pub(crate) const SIZE: u32 = 256;
/// Cells per side of the grid shapes are placed on.
const GRID: u32 = 4;
/// Side of a grid cell.
const CELL: u32 = SIZE / GRID;
/// The most shapes a picture holds (one per cell).
const MAX_SHAPES: u32 = GRID * GRID;
/// The cells shapes fill, in order: a fixed scatter, so shapes are apart and not in a row.
const CELL_ORDER: [u32; MAX_SHAPES as usize] =
    [5, 0, 10, 15, 3, 12, 6, 9, 1, 14, 2, 13, 4, 11, 7, 8];

/// Background.
pub(crate) const WHITE: Rgb<u8> = Rgb([255, 255, 255]);
/// Digits.
pub(crate) const BLACK: Rgb<u8> = Rgb([0, 0, 0]);
/// Red shapes.
pub(crate) const RED: Rgb<u8> = Rgb([220, 30, 30]);
/// Blue shapes.
pub(crate) const BLUE: Rgb<u8> = Rgb([30, 60, 220]);
/// Green shapes.
pub(crate) const GREEN: Rgb<u8> = Rgb([30, 170, 60]);

/// A picture of the suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Picture {
    /// `red` red squares and `blue` blue squares on white.
    Squares {
        /// Red squares.
        red: u32,
        /// Blue squares.
        blue: u32,
    },
    /// `circles` blue circles and `squares` green squares on white.
    CirclesAndSquares {
        /// Blue circles.
        circles: u32,
        /// Green squares.
        squares: u32,
    },
    /// One large black seven-segment digit (0–9) on white.
    Digit(u8),
    /// Two black seven-segment digits side by side on white.
    TwoDigits(u8, u8),
}

impl Picture {
    /// Draws the picture. Shapes beyond [`MAX_SHAPES`] and digits above 9 are not drawn.
    pub(crate) fn draw(self) -> RgbImage {
        let mut image = RgbImage::from_pixel(SIZE, SIZE, WHITE);
        match self {
            Picture::Squares { red, blue } => {
                let colours = std::iter::repeat_n(RED, red as usize)
                    .chain(std::iter::repeat_n(BLUE, blue as usize));
                for (cell, colour) in CELL_ORDER.iter().zip(colours) {
                    square_in_cell(&mut image, *cell, colour);
                }
            }
            Picture::CirclesAndSquares { circles, squares } => {
                let shapes = std::iter::repeat_n(true, circles as usize)
                    .chain(std::iter::repeat_n(false, squares as usize));
                for (cell, circle) in CELL_ORDER.iter().zip(shapes) {
                    if circle {
                        circle_in_cell(&mut image, *cell, BLUE);
                    } else {
                        square_in_cell(&mut image, *cell, GREEN);
                    }
                }
            }
            Picture::Digit(digit) => seven_segment(&mut image, digit, SINGLE_DIGIT),
            Picture::TwoDigits(left, right) => {
                seven_segment(&mut image, left, LEFT_DIGIT);
                seven_segment(&mut image, right, RIGHT_DIGIT);
            }
        }
        image
    }
}

/// Where a seven-segment digit is drawn: top-left corner, size and stroke width.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DigitBox {
    pub(crate) x: u32,
    pub(crate) y: u32,
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) stroke: u32,
}

/// The box of [`Picture::Digit`].
pub(crate) const SINGLE_DIGIT: DigitBox = DigitBox {
    x: 68,
    y: 28,
    width: 120,
    height: 200,
    stroke: 26,
};
/// The left box of [`Picture::TwoDigits`].
pub(crate) const LEFT_DIGIT: DigitBox = DigitBox {
    x: 32,
    y: 48,
    width: 80,
    height: 160,
    stroke: 18,
};
/// The right box of [`Picture::TwoDigits`].
pub(crate) const RIGHT_DIGIT: DigitBox = DigitBox {
    x: 144,
    ..LEFT_DIGIT
};

/// The lit segments of each digit, as bits `a b c d e f g` (bit 0 = a, the top bar; then
/// clockwise: b top-right, c bottom-right, d bottom, e bottom-left, f top-left; g the middle).
pub(crate) const SEGMENTS: [u8; 10] = [
    0b011_1111, // 0: a b c d e f
    0b000_0110, // 1: b c
    0b101_1011, // 2: a b d e g
    0b100_1111, // 3: a b c d g
    0b110_0110, // 4: b c f g
    0b110_1101, // 5: a c d f g
    0b111_1101, // 6: a c d e f g
    0b000_0111, // 7: a b c
    0b111_1111, // 8: all
    0b110_1111, // 9: a b c d f g
];

/// The rectangle of each segment `a`..`g` in `b`: `(x, y, width, height)`.
pub(crate) fn segment_rects(b: DigitBox) -> [(u32, u32, u32, u32); 7] {
    let half = b.height / 2;
    let right = b.x + b.width - b.stroke;
    [
        (b.x, b.y, b.width, b.stroke),                             // a
        (right, b.y, b.stroke, half),                              // b
        (right, b.y + half, b.stroke, b.height - half),            // c
        (b.x, b.y + b.height - b.stroke, b.width, b.stroke),       // d
        (b.x, b.y + half, b.stroke, b.height - half),              // e
        (b.x, b.y, b.stroke, half),                                // f
        (b.x, b.y + (b.height - b.stroke) / 2, b.width, b.stroke), // g
    ]
}

fn seven_segment(image: &mut RgbImage, digit: u8, at: DigitBox) {
    let Some(&lit) = SEGMENTS.get(usize::from(digit)) else {
        return;
    };
    for (segment, (x, y, width, height)) in segment_rects(at).into_iter().enumerate() {
        if lit & (1 << segment) != 0 {
            fill_rect(image, x, y, width, height, BLACK);
        }
    }
}

/// Side of a square shape; the rest of its cell is margin.
const SQUARE: u32 = 36;
/// Radius of a circle shape.
const RADIUS: u32 = 20;

fn cell_origin(cell: u32) -> (u32, u32) {
    ((cell % GRID) * CELL, (cell / GRID) * CELL)
}

fn square_in_cell(image: &mut RgbImage, cell: u32, colour: Rgb<u8>) {
    let (x, y) = cell_origin(cell);
    let margin = (CELL - SQUARE) / 2;
    fill_rect(image, x + margin, y + margin, SQUARE, SQUARE, colour);
}

fn circle_in_cell(image: &mut RgbImage, cell: u32, colour: Rgb<u8>) {
    let (x, y) = cell_origin(cell);
    let (cx, cy) = (i64::from(x + CELL / 2), i64::from(y + CELL / 2));
    let r = i64::from(RADIUS);
    for py in y..y + CELL {
        for px in x..x + CELL {
            let (dx, dy) = (i64::from(px) - cx, i64::from(py) - cy);
            if dx * dx + dy * dy <= r * r {
                image.put_pixel(px, py, colour);
            }
        }
    }
}

fn fill_rect(image: &mut RgbImage, x: u32, y: u32, width: u32, height: u32, colour: Rgb<u8>) {
    for py in y..(y + height).min(image.height()) {
        for px in x..(x + width).min(image.width()) {
            image.put_pixel(px, py, colour);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Connected regions (4-neighbourhood) of pixels of `colour`.
    fn blobs(image: &RgbImage, colour: Rgb<u8>) -> usize {
        let (w, h) = image.dimensions();
        let mut seen = vec![false; (w * h) as usize];
        let mut count = 0;
        for start in 0..w * h {
            let (x, y) = (start % w, start / w);
            if seen[start as usize] || *image.get_pixel(x, y) != colour {
                continue;
            }
            count += 1;
            let mut stack = vec![(x, y)];
            seen[start as usize] = true;
            while let Some((x, y)) = stack.pop() {
                let neighbours = [
                    (x.wrapping_sub(1), y),
                    (x + 1, y),
                    (x, y.wrapping_sub(1)),
                    (x, y + 1),
                ];
                for (nx, ny) in neighbours {
                    if nx < w
                        && ny < h
                        && !seen[(ny * w + nx) as usize]
                        && *image.get_pixel(nx, ny) == colour
                    {
                        seen[(ny * w + nx) as usize] = true;
                        stack.push((nx, ny));
                    }
                }
            }
        }
        count
    }

    /// Reads a seven-segment digit back by looking at the middle of each segment.
    fn read_digit(image: &RgbImage, at: DigitBox) -> Option<u8> {
        let mut lit = 0u8;
        for (segment, (x, y, width, height)) in segment_rects(at).into_iter().enumerate() {
            // The middle of a bar, away from the corners other bars share.
            if *image.get_pixel(x + width / 2, y + height / 2) == BLACK {
                lit |= 1 << segment;
            }
        }
        SEGMENTS
            .iter()
            .position(|&pattern| pattern == lit)
            .and_then(|digit| u8::try_from(digit).ok())
    }

    #[test]
    fn squares_are_as_many_as_the_picture_says() {
        for (red, blue) in [(0, 0), (1, 0), (4, 0), (6, 3), (10, 6)] {
            let image = Picture::Squares { red, blue }.draw();
            assert_eq!(blobs(&image, RED), red as usize, "red of ({red}, {blue})");
            assert_eq!(
                blobs(&image, BLUE),
                blue as usize,
                "blue of ({red}, {blue})"
            );
            assert_eq!(image.dimensions(), (SIZE, SIZE));
        }
    }

    #[test]
    fn circles_and_squares_are_counted_apart() {
        let image = Picture::CirclesAndSquares {
            circles: 5,
            squares: 2,
        }
        .draw();
        assert_eq!(blobs(&image, BLUE), 5);
        assert_eq!(blobs(&image, GREEN), 2);
        // A circle is round: its cell's corner stays white, a square's bounding box is full.
        let circles: usize = image.pixels().filter(|p| **p == BLUE).count();
        let disc = std::f64::consts::PI * f64::from(RADIUS * RADIUS);
        let per_circle = circles as f64 / 5.0;
        assert!(
            (per_circle - disc).abs() / disc < 0.05,
            "{per_circle} vs {disc}"
        );
        let squares = image.pixels().filter(|p| **p == GREEN).count();
        assert_eq!(squares, 2 * (SQUARE * SQUARE) as usize);
    }

    #[test]
    fn every_digit_reads_back_as_itself_and_is_one_stroke() {
        let patterns: std::collections::BTreeSet<u8> = SEGMENTS.iter().copied().collect();
        assert_eq!(patterns.len(), 10, "no two digits look alike");
        for digit in 0..10 {
            let image = Picture::Digit(digit).draw();
            assert_eq!(read_digit(&image, SINGLE_DIGIT), Some(digit));
            assert_eq!(blobs(&image, BLACK), 1, "digit {digit} is connected");
        }
        for (left, right) in [(3, 8), (0, 1), (9, 2)] {
            let image = Picture::TwoDigits(left, right).draw();
            assert_eq!(read_digit(&image, LEFT_DIGIT), Some(left));
            assert_eq!(read_digit(&image, RIGHT_DIGIT), Some(right));
            assert_eq!(blobs(&image, BLACK), 2, "{left} and {right} are apart");
        }
    }

    #[test]
    fn too_many_shapes_and_bad_digits_are_not_drawn() {
        let image = Picture::Squares { red: 20, blue: 0 }.draw();
        assert_eq!(blobs(&image, RED), MAX_SHAPES as usize);
        let blank = Picture::Digit(12).draw();
        assert!(blank.pixels().all(|p| *p == WHITE));
    }
}
