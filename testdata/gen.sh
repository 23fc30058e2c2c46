#!/bin/sh
# gen.sh regenerates the small synthetic clips in testdata/media with the ffmpeg CLI.
# Everything is synthetic (lavfi testsrc / sine sources); no third-party media.
# Run from anywhere: sh testdata/gen.sh. Needs ffmpeg with libx264, aac, flv and libmp3lame.
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
