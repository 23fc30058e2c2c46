#!/bin/sh
# gen.sh regenerates the small synthetic clips in testdata/media with the ffmpeg CLI.
# Everything is synthetic (lavfi testsrc / sine sources); no third-party media.
# Run from anywhere: sh testdata/gen.sh. Needs ffmpeg with libx264, aac, flv and libmp3lame, and
# python3 (to write the header fields the display and duration files patch).
set -eu
cd "$(dirname "$0")/media"

ff() { ffmpeg -hide_banner -loglevel error -y "$@"; }
# Bit-exact, metadata-free output so regenerating gives stable files.
BE="-fflags +bitexact -flags:v +bitexact -flags:a +bitexact -map_metadata -1"

# 2 s 160x120 testsrc (frame counter, moving content) at 25 fps, H.264 with a keyframe every
# 12 frames (so seeking has several keyframes), + 440 Hz AAC 44.1 kHz stereo.
ff -f lavfi -i testsrc=size=160x120:rate=25:duration=2 \
   -f lavfi -i "sine=frequency=440:sample_rate=44100:duration=2" \
   -filter_complex "[1:a]volume=0.5,pan=stereo|c0=c0|c1=c0[a]" -map 0:v -map "[a]" \
   -c:v libx264 -preset veryfast -crf 35 -g 12 -pix_fmt yuv420p \
   -c:a aac -b:a 48k $BE sine_h264_aac.mp4

# 2 s FLV: Sorenson Spark (flv1; no VP6 encoder exists in FFmpeg) 160x120 at 25 fps + 440 Hz MP3
# 44.1 kHz mono, like CREMA-D's VideoFlash layout.
ff -f lavfi -i testsrc=size=160x120:rate=25:duration=2 \
   -f lavfi -i "sine=frequency=440:sample_rate=44100:duration=2" \
   -c:v flv1 -q:v 12 -c:a libmp3lame -b:a 32k -ac 1 $BE flv_mp3.flv

# 1 s 440 Hz tone, 16-bit PCM WAV, 22.05 kHz mono.
ff -f lavfi -i "sine=frequency=440:sample_rate=22050:duration=1" -af volume=0.5 \
   -c:a pcm_s16le $BE tone.wav
# 0.25 s 440 Hz stereo WAVs at 8 kHz in 24-bit PCM and 32-bit float.
ff -f lavfi -i "sine=frequency=440:sample_rate=8000:duration=0.25" -af "volume=0.5,pan=stereo|c0=c0|c1=c0" \
   -c:a pcm_s24le $BE tone_s24_stereo.wav
ff -f lavfi -i "sine=frequency=440:sample_rate=8000:duration=0.25" -af "volume=0.5,pan=stereo|c0=c0|c1=c0" \
   -c:a pcm_f32le $BE tone_f32_stereo.wav

# 1 s 440 Hz MP3, 16 kHz mono.
ff -f lavfi -i "sine=frequency=440:sample_rate=16000:duration=1" -c:a libmp3lame -b:a 24k $BE tone.mp3

# Video only (one keyframe: long GOP), 1 s.
ff -f lavfi -i testsrc=size=160x120:rate=25:duration=1 \
   -c:v libx264 -preset veryfast -crf 35 -pix_fmt yuv420p $BE no_audio.mp4

# Audio only: 1 s 440 Hz AAC mono 48 kHz in an .m4a.
ff -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=1" -c:a aac -b:a 32k -ac 1 $BE no_video.m4a

# Bad files: empty, cut to 30% of a valid file, and a text file named .mp4.
: > empty.mp4
size=$(wc -c < sine_h264_aac.mp4)
head -c $((size * 30 / 100)) sine_h264_aac.mp4 > truncated.mp4
printf 'this is a text file, not an MP4\n' > text.mp4

# Display orientation: a 2 s 64x48 testsrc (asymmetric: the frame counter, the colour bars) at
# 10 fps, H.264, and copies whose MP4 track matrix (tkhd) asks players to turn it, one for each
# of the seven orientations ffmpeg's autorotate applies (FFmpeg 5.1's CLI has no
# -display_rotation/-display_hflip, so the matrix is written here).
ff -f lavfi -i testsrc=size=64x48:rate=10:duration=2 \
   -c:v libx264 -preset veryfast -crf 30 -g 5 -pix_fmt yuv420p $BE rotate_none.mp4

# Durations that lie: the same picture in Matroska and FLV, and copies whose header says the
# clip lasts 3.6e6 s (Matroska Segment Duration, FLV onMetaData duration) or 1e5 s (MP4 mvhd)
# while their packets last 2 s.
ff -f lavfi -i testsrc=size=64x48:rate=10:duration=2 \
   -c:v libx264 -preset veryfast -crf 30 -g 5 -pix_fmt yuv420p $BE duration_2s.mkv
ff -f lavfi -i testsrc=size=64x48:rate=10:duration=2 -c:v flv1 -q:v 12 $BE duration_2s.flv

python3 - <<'PY'
import struct

def patch(src, dst, find, offset, fmt, value):
    """Copies src to dst with the field at find+offset (struct format fmt) set to value."""
    d = bytearray(open(src, 'rb').read())
    i = d.find(find)
    assert i >= 0, (src, find)
    d[i + offset:i + offset + struct.calcsize(fmt)] = struct.pack(fmt, value)
    open(dst, 'wb').write(d)

# tkhd (version 0) holds its 3x3 matrix {a b u; c d v; x y w} 44 bytes after the 'tkhd' type:
# a b c d x y in 16.16 fixed point, u v w in 2.30. FFmpeg reads it as the display matrix.
def tkhd_matrix(src, dst, a, b, c, d):
    data = bytearray(open(src, 'rb').read())
    i = data.find(b'tkhd')
    assert data[i + 4] == 0, 'tkhd version 1'
    data[i + 44:i + 80] = struct.pack('>9i', a << 16, b << 16, 0, c << 16, d << 16, 0, 0, 0, 1 << 30)
    open(dst, 'wb').write(data)

for name, m in {'90': (0, 1, -1, 0), '180': (-1, 0, 0, -1), '270': (0, -1, 1, 0), 'hflip': (-1, 0, 0, 1),
                'vflip': (1, 0, 0, -1), 'transpose': (0, 1, 1, 0), 'transverse': (0, -1, -1, 0)}.items():
    tkhd_matrix('rotate_none.mp4', 'rotate_' + name + '.mp4', *m)

# Matroska Duration (EBML id 0x4489, 8-byte float, in TimecodeScale units: ms) → 3.6e9 ms.
patch('duration_2s.mkv', 'duration_lies.mkv', b'\x44\x89\x88', 3, '>d', 3.6e9)
# FLV onMetaData: "duration" then an AMF number (type byte 0, big-endian double) → 3.6e6 s.
patch('duration_2s.flv', 'duration_lies.flv', b'duration\x00', 9, '>d', 3.6e6)
# MP4 mvhd (version 0): the movie duration 24 bytes after the box start, in its timescale (1000).
data = bytearray(open('rotate_none.mp4', 'rb').read())
i = data.find(b'mvhd') - 4
assert data[i + 8] == 0 and struct.unpack('>I', data[i + 20:i + 24])[0] == 1000
data[i + 24:i + 28] = struct.pack('>I', 100000 * 1000)
open('duration_lies.mp4', 'wb').write(data)
PY
